package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/robotgate/robotgate/accounts"
	"github.com/robotgate/robotgate/policy"
)

// BenchmarkCachedCredentialRequest measures one authorised request through
// the gateway handler with credentials already in the cache: route parsing,
// the cache hit, the policy decision, the reverse proxy to a trivial
// upstream, and the audit line (to a no-op logger). No bcrypt runs.
func BenchmarkCachedCredentialRequest(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", dgst)
		w.WriteHeader(http.StatusOK)
	}))
	defer up.Close()

	dir := b.TempDir()
	path := filepath.Join(dir, "accounts.toml")
	ed := &accounts.Editor{Path: path, Prefix: "tcr$"}
	_, pass, err := ed.Create(accounts.NewAccount{Name: "bench",
		Grants: []policy.Grant{{Namespace: "team-a", Level: policy.LevelReadOnly}}}, testNow())
	require.NoError(b, err)
	store := accounts.NewStore(path, "tcr$", nil)
	require.NoError(b, store.Load())
	auth, err := accounts.NewAuthenticator(store, 128)
	require.NoError(b, err)
	pol, _ := policy.New(nil)
	u, _ := url.Parse(up.URL)
	gw, err := New(Options{Upstream: u, Authenticator: auth, Policy: pol})
	require.NoError(b, err)

	req := httptest.NewRequest("HEAD", "/v2/team-a/app/manifests/v1", nil)
	req.SetBasicAuth("tcr$bench", pass)
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, req) // warm the credential cache
	require.Equal(b, http.StatusOK, w.Code)

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	_ = os.Remove(path)
}

// BenchmarkRefusedRoute measures a request refused at the route check: no
// credential work, no upstream.
func BenchmarkRefusedRoute(b *testing.B) {
	pol, _ := policy.New(nil)
	u, _ := url.Parse("http://127.0.0.1:1")
	gw, err := New(Options{Upstream: u, Authenticator: &fakeAuth{}, Policy: pol})
	require.NoError(b, err)
	req := httptest.NewRequest("GET", "/v2/team-a/../b/manifests/v1", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
	}
}

// BenchmarkDirectUpstream is the same HEAD sent straight to the upstream
// with the gateway's transport: the baseline the gateway's cost is a ratio
// of.
func BenchmarkDirectUpstream(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", dgst)
		w.WriteHeader(http.StatusOK)
	}))
	defer up.Close()
	client := &http.Client{Transport: NewTransport(TransportOptions{})}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Head(up.URL + "/v2/team-a/app/manifests/v1")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
