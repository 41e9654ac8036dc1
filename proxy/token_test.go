package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestScopes(t *testing.T) {
	tests := []struct {
		name, method, target string
		want                 []string
	}{
		{"base", "GET", "/v2/", nil},
		{"catalog", "GET", "/v2/_catalog?n=10", []string{"registry:catalog:*"}},
		{"manifest get", "GET", "/v2/team-a/app/manifests/v1", []string{"repository:team-a/app:pull"}},
		{"manifest head", "HEAD", "/v2/team-a/app/manifests/v1", []string{"repository:team-a/app:pull"}},
		{"blob get", "GET", "/v2/a/blobs/sha256:" + strings.Repeat("a", 64), []string{"repository:a:pull"}},
		{"tags", "GET", "/v2/a/b/c/tags/list", []string{"repository:a/b/c:pull"}},
		{"upload start", "POST", "/v2/a/blobs/uploads/", []string{"repository:a:pull,push"}},
		{"mount", "POST", "/v2/a/blobs/uploads/?mount=sha256:" + strings.Repeat("b", 64) + "&from=b/src",
			[]string{"repository:a:pull,push", "repository:b/src:pull"}},
		{"upload chunk", "PATCH", "/v2/a/blobs/uploads/3f2a-11", []string{"repository:a:pull,push"}},
		{"upload put", "PUT", "/v2/a/blobs/uploads/3f2a-11?digest=sha256:" + strings.Repeat("c", 64), []string{"repository:a:pull,push"}},
		{"manifest put", "PUT", "/v2/a/manifests/latest", []string{"repository:a:pull,push"}},
		{"manifest delete", "DELETE", "/v2/a/manifests/sha256:" + strings.Repeat("d", 64), []string{"repository:a:delete"}},
		{"blob delete", "DELETE", "/v2/a/blobs/sha256:" + strings.Repeat("d", 64), []string{"repository:a:delete"}},
		{"unknown route", "GET", "/other", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://up"+tt.target, nil)
			assert.Equal(t, tt.want, RequestScopes(r))
		})
	}
}

// fakeTokenRegistry is a registry with Docker-style token auth: /token
// (same host, so go-containerregistry's realm check allows it) issues
// opaque tokens for Basic user:pass, and every /v2/ request needs a token
// that covers its scope.
type fakeTokenRegistry struct {
	srv          *httptest.Server
	user, pass   string
	accessOnly   bool // answer {"access_token": ...} only
	expiresIn    int
	tokenStatus  int // non-zero: the token service answers this
	pingFailures atomic.Int32
	openBase     bool // /v2/ answers 200 without a token; repositories still need one

	mu      sync.Mutex
	seq     int
	valid   map[string]string // token -> scope it covers
	pings   int
	tokens  []url.Values // token requests' queries
	logins  []string     // Basic users at the token service
	bearers []string     // Authorization headers at /v2/<name>/...
}

func newFakeTokenRegistry(t *testing.T) *fakeTokenRegistry {
	f := &fakeTokenRegistry{user: "gw", pass: "gw-secret", expiresIn: 300, valid: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTokenRegistry) challenge(w http.ResponseWriter, scope string) {
	c := fmt.Sprintf(`Bearer realm="%s/token",service="fake"`, f.srv.URL)
	if scope != "" {
		c += fmt.Sprintf(`,scope=%q`, scope)
	}
	w.Header().Set("WWW-Authenticate", c)
	w.WriteHeader(http.StatusUnauthorized)
}

func (f *fakeTokenRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/token" {
		u, p, ok := r.BasicAuth()
		f.logins = append(f.logins, u)
		f.tokens = append(f.tokens, r.URL.Query())
		if f.tokenStatus != 0 {
			w.WriteHeader(f.tokenStatus)
			return
		}
		if f.user != "" && (!ok || u != f.user || p != f.pass) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.seq++
		tok := fmt.Sprintf("tok-%d", f.seq)
		f.valid[tok] = strings.Join(r.URL.Query()["scope"], " ")
		body := map[string]any{"token": tok, "expires_in": f.expiresIn}
		if f.accessOnly {
			body = map[string]any{"access_token": tok, "expires_in": f.expiresIn}
		}
		_ = json.NewEncoder(w).Encode(body)
		return
	}
	auth := r.Header.Get("Authorization")
	if r.URL.Path == "/v2/" && auth == "" {
		f.pings++
		if f.pingFailures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if f.openBase {
			w.WriteHeader(http.StatusOK)
			return
		}
		f.challenge(w, "")
		return
	}
	f.bearers = append(f.bearers, auth)
	need := strings.Join(RequestScopes(r), " ")
	scope, ok := f.valid[strings.TrimPrefix(auth, "Bearer ")]
	if !ok || !strings.Contains(scope, need) {
		f.challenge(w, need)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

func (f *fakeTokenRegistry) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = map[string]string{}
}

func (f *fakeTokenRegistry) counts() (pings, tokens int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pings, len(f.tokens)
}

func newTestAuth(t *testing.T, upstream, user, pass string) *UpstreamAuth {
	t.Helper()
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	a, err := NewUpstreamAuth(UpstreamAuthOptions{Base: NewTransport(TransportOptions{}), Upstream: u, Username: user, Password: pass})
	require.NoError(t, err)
	return a
}

func authDo(t *testing.T, rt http.RoundTripper, method, target string, body io.Reader) (*http.Response, error) {
	t.Helper()
	r, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(r)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestUpstreamAuthBearerCachesPingAndTokensPerScope(t *testing.T) {
	f := newFakeTokenRegistry(t)
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	for i := 0; i < 5; i++ {
		resp, err := authDo(t, a, "GET", f.srv.URL+"/v2/team-a/app/manifests/v1", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, err := authDo(t, a, "PUT", f.srv.URL+"/v2/team-a/app/manifests/v1", strings.NewReader("{}"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	pings, tokens := f.counts()
	assert.Equal(t, 1, pings, "one ping for all requests")
	assert.Equal(t, 2, tokens, "one token per scope")
	assert.Equal(t, []string{"repository:team-a/app:pull"}, f.tokens[0]["scope"])
	assert.Equal(t, "fake", f.tokens[0].Get("service"))
	assert.Equal(t, []string{"repository:team-a/app:pull,push"}, f.tokens[1]["scope"])
	assert.Equal(t, []string{"gw", "gw"}, f.logins, "the token service sees the gateway's credentials")
	for _, b := range f.bearers {
		assert.True(t, strings.HasPrefix(b, "Bearer tok-"), b)
	}
}

func TestUpstreamAuthRefreshesBeforeExpiry(t *testing.T) {
	f := newFakeTokenRegistry(t)
	f.expiresIn = 60 // refreshed 6s early
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	now := time.Now()
	a.now = func() time.Time { return now }
	get := func() {
		resp, err := authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	get()
	now = now.Add(50 * time.Second)
	get()
	_, tokens := f.counts()
	assert.Equal(t, 1, tokens, "still valid after 50s")
	now = now.Add(5 * time.Second)
	get()
	_, tokens = f.counts()
	assert.Equal(t, 2, tokens, "replaced 5s before expiry")
}

func TestUpstreamAuthAccessTokenOnly(t *testing.T) {
	f := newFakeTokenRegistry(t)
	f.accessOnly = true
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	resp, err := authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestUpstreamAuthAnonymousToken(t *testing.T) {
	f := newFakeTokenRegistry(t)
	f.user = "" // the fake issues tokens to anyone
	a := newTestAuth(t, f.srv.URL, "", "")
	resp, err := authDo(t, a, "GET", f.srv.URL+"/v2/library/alpine/manifests/latest", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{""}, f.logins, "no credentials sent")
}

func TestUpstreamAuthRetriesOnlyReplayableRequests(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		body       func() io.Reader
		wantStatus int
		wantTokens int // after the first, cached one
	}{
		{"GET without body is retried", "GET", func() io.Reader { return nil }, http.StatusOK, 2},
		{"PUT with GetBody is retried", "PUT", func() io.Reader { return bytes.NewReader([]byte("{}")) }, http.StatusOK, 2},
		// A streamed body (no GetBody) is never buffered for a retry: the
		// 401 goes back (the gateway answers 502) and its token is dropped.
		{"streamed PUT is not retried", "PUT", func() io.Reader { return io.MultiReader(strings.NewReader("{}")) }, http.StatusUnauthorized, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTokenRegistry(t)
			a := newTestAuth(t, f.srv.URL, f.user, f.pass)
			target := f.srv.URL + "/v2/a/manifests/v1"
			resp, err := authDo(t, a, tt.method, target, tt.body())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			f.revokeAll()
			resp, err = authDo(t, a, tt.method, target, tt.body())
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			_, tokens := f.counts()
			assert.Equal(t, tt.wantTokens, tokens)
			if tt.wantStatus == http.StatusUnauthorized {
				resp, err = authDo(t, a, tt.method, target, tt.body())
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode, "the next request gets a fresh token")
			}
		})
	}
}

func TestUpstreamAuthTokenServiceRefusesCredentials(t *testing.T) {
	f := newFakeTokenRegistry(t)
	a := newTestAuth(t, f.srv.URL, f.user, "wrong")
	_, err := authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, errUpstreamAuth), err)

	f.tokenStatus = http.StatusInternalServerError
	_, err = authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
	require.Error(t, err)
	assert.False(t, errors.Is(err, errUpstreamAuth), "a broken token service is not a credentials problem: %v", err)
	assert.Contains(t, err.Error(), "token for scope")
}

func TestUpstreamAuthPingFailureIsNotCached(t *testing.T) {
	f := newFakeTokenRegistry(t)
	f.pingFailures.Store(1)
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	_, err := authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ping "+f.srv.URL+"/v2/")
	resp, err := authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	pings, _ := f.counts()
	assert.Equal(t, 2, pings)
}

func TestUpstreamAuthBasicChallenge(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != "gw" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="up"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	a := newTestAuth(t, srv.URL, "gw", "pw")
	for i := 0; i < 3; i++ {
		resp, err := authDo(t, a, "GET", srv.URL+"/v2/a/tags/list", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 4, "one anonymous ping, then Basic on every request")
	assert.Equal(t, "", seen[0])
	for _, h := range seen[1:] {
		assert.True(t, strings.HasPrefix(h, "Basic "), h)
	}
}

func TestUpstreamAuthNoCredentialsForOtherHosts(t *testing.T) {
	f := newFakeTokenRegistry(t)
	var got atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	resp, err := authDo(t, a, "GET", other.URL+"/v2/a/blobs/sha256:"+strings.Repeat("a", 64), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "", got.Load())
	pings, tokens := f.counts()
	assert.Equal(t, 0, pings+tokens, "the upstream was not even asked")
}

func TestSchemeOnlyNeverDowngrades(t *testing.T) {
	s := &schemeOnly{base: http.DefaultTransport, scheme: "https"}
	r := httptest.NewRequest("GET", "http://127.0.0.1:1/v2/", nil)
	_, err := s.RoundTrip(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not trying http")
}

func TestUpstreamAuthConcurrentRequestsShareOnePingAndToken(t *testing.T) {
	f := newFakeTokenRegistry(t)
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest("GET", f.srv.URL+"/v2/a/manifests/v1", nil)
			resp, err := a.RoundTrip(r)
			if assert.NoError(t, err) {
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	pings, tokens := f.counts()
	assert.Equal(t, 1, pings)
	assert.Equal(t, 1, tokens)
}

func TestUpstreamAuthAdoptsBearerChallengeBehindOpenBase(t *testing.T) {
	f := newFakeTokenRegistry(t)
	f.openBase = true
	a := newTestAuth(t, f.srv.URL, f.user, f.pass)
	for i := 0; i < 3; i++ {
		resp, err := authDo(t, a, "GET", f.srv.URL+"/v2/a/tags/list", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	pings, tokens := f.counts()
	assert.Equal(t, 1, pings)
	assert.Equal(t, 1, tokens)
}

func TestBearerChallenge(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		want   map[string]string
		ok     bool
	}{
		{"distribution", []string{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"`},
			map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"}, true},
		{"spaces, unquoted, error", []string{`bearer  realm="r", service=svc , error="insufficient_scope"`},
			map[string]string{"realm": "r", "service": "svc", "error": "insufficient_scope"}, true},
		{"basic only", []string{`Basic realm="up"`}, nil, false},
		{"second header", []string{`Basic realm="up"`, `Bearer realm="r"`}, map[string]string{"realm": "r"}, true},
		{"none", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{"Www-Authenticate": tt.header}}
			got, ok := bearerChallenge(resp)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}
