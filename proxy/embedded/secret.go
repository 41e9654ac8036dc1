package embedded

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// secretFile holds the registry's http.secret inside DataDir.
	secretFile = ".http-secret"
	// secretBytes is the number of random bytes in a new secret, as many
	// as distribution itself generates when none is configured.
	secretBytes = 32
)

// ErrEmptySecret means the secret file exists but holds nothing; it is not
// replaced silently, since other replicas may be using what it should hold.
var ErrEmptySecret = errors.New("embedded: http secret file is empty")

// loadOrCreateSecret returns the secret stored in dataDir, creating it
// (mode 0600) on first use. The registry signs upload state with it, so every
// process serving the same storage must use the same value.
//
// A new secret is written to a temporary file and hard-linked into place, so
// two processes starting together on shared storage both end up reading the
// one that won, and no reader ever sees a half-written file.
func loadOrCreateSecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, secretFile)
	secret, err := readSecret(path)
	if !errors.Is(err, os.ErrNotExist) {
		return secret, err
	}

	buf := make([]byte, secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("embedded: generate http secret: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, secretFile+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("embedded: create http secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; stated for the reader.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("embedded: create http secret: %w", err)
	}
	if _, err := tmp.WriteString(hex.EncodeToString(buf) + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("embedded: write http secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("embedded: write http secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("embedded: write http secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("embedded: store http secret: %w", err)
	}
	return readSecret(path)
}

// readSecret reads and trims the secret file at path.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("embedded: read http secret: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("%w: %s", ErrEmptySecret, path)
	}
	return secret, nil
}
