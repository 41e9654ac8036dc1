package embedded

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSecretCreatedOnceAndPrivate(t *testing.T) {
	dir := t.TempDir()
	first, err := loadOrCreateSecret(dir)
	require.NoError(t, err)
	assert.Len(t, first, 2*secretBytes, "hex of %d bytes", secretBytes)

	fi, err := os.Stat(filepath.Join(dir, secretFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	again, err := loadOrCreateSecret(dir)
	require.NoError(t, err)
	assert.Equal(t, first, again)
}

// Replicas starting together on shared storage agree on one secret.
func TestSecretConcurrentCreationAgrees(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	secrets := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := loadOrCreateSecret(dir)
			assert.NoError(t, err)
			secrets[i] = s
		})
	}
	wg.Wait()
	for _, s := range secrets {
		assert.Equal(t, secrets[0], s)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary files removed")
	assert.Equal(t, secretFile, entries[0].Name())
}
