package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TokenServer is a Docker-style token service (the "token" auth of CNCF
// distribution) for tests: GET /token with Basic credentials of one of its
// users returns an ES256 JWT granting every requested scope. The JWT header
// carries the signing certificate as x5c; that self-signed certificate is
// RootCertBundle, which distribution v3 verifies the chain against.
type TokenServer struct {
	// URL is http://localhost:port: go-containerregistry refuses a token
	// realm on a loopback IP at another port than the registry, but not a
	// host name.
	URL     string
	Service string
	Issuer  string
	// RootCertBundle is the PEM file with the signing certificate.
	RootCertBundle string
	// ExpiresIn is the lifetime of issued tokens in seconds.
	ExpiresIn int

	users map[string]string
	key   *ecdsa.PrivateKey
	x5c   string

	mu       sync.Mutex
	requests []TokenRequest
}

// TokenRequest is one request the token service saw.
type TokenRequest struct {
	User    string // the Basic user name given ("" when none)
	Granted bool
	Scopes  []string
}

// StartTokenServer serves tokens to users (user -> password) until the
// test ends.
func StartTokenServer(t testing.TB, users map[string]string) *TokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "e2e token signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	s := &TokenServer{Service: "e2e-registry", Issuer: "e2e-token-issuer", ExpiresIn: 300, users: users, key: key,
		x5c: base64.StdEncoding.EncodeToString(der)}
	s.RootCertBundle = filepath.Join(t.TempDir(), "token-signer.pem")
	require.NoError(t, os.WriteFile(s.RootCertBundle, pemBlock("CERTIFICATE", der), 0o600))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	return s
}

// Auth is the registry's auth section for this service.
func (s *TokenServer) Auth() *TokenAuth {
	return &TokenAuth{Realm: s.URL + "/token", Service: s.Service, Issuer: s.Issuer, RootCertBundle: s.RootCertBundle}
}

// Requests returns every token request so far.
func (s *TokenServer) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TokenRequest(nil), s.requests...)
}

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	want, known := s.users[user]
	granted := r.URL.Path == "/token" && known && pass == want
	scopes := r.URL.Query()["scope"]
	s.mu.Lock()
	s.requests = append(s.requests, TokenRequest{User: user, Granted: granted, Scopes: scopes})
	s.mu.Unlock()
	if !granted {
		w.Header().Set("WWW-Authenticate", `Basic realm="e2e-token"`)
		http.Error(w, `{"details":"invalid credentials"}`, http.StatusUnauthorized)
		return
	}
	tok, err := s.sign(user, scopes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "expires_in": s.ExpiresIn, "issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

type resourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// sign builds the compact JWS distribution's token package verifies:
// ES256 over header.claims, signature r||s (32 bytes each).
func (s *TokenServer) sign(subject string, scopes []string) (string, error) {
	var access []resourceActions
	for _, sc := range strings.Fields(strings.Join(scopes, " ")) {
		typ, rest, ok1 := strings.Cut(sc, ":")
		i := strings.LastIndex(rest, ":")
		if !ok1 || i < 0 {
			return "", fmt.Errorf("bad scope %q", sc)
		}
		access = append(access, resourceActions{Type: typ, Name: rest[:i], Actions: strings.Split(rest[i+1:], ",")})
	}
	now := time.Now()
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{s.x5c}})
	claims, _ := json.Marshal(map[string]any{
		"iss": s.Issuer, "sub": subject, "aud": s.Service,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Duration(s.ExpiresIn) * time.Second).Unix(),
		"jti": fmt.Sprintf("%x", jti), "access": access,
	})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	return signing + "." + enc.EncodeToString(raw), nil
}
