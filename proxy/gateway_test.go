package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
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

	"github.com/robotgate/robotgate/accounts"
	"github.com/robotgate/robotgate/policy"
)

// fakeAuth is a one-method fake that counts calls, so tests can prove no
// credential check ran for a request refused before it.
type fakeAuth struct {
	calls    atomic.Int64
	accounts map[string]fakeAccount
}

type fakeAccount struct {
	pass string
	acct *accounts.Account
	err  error // returned after a correct password (disabled, expired)
}

func (f *fakeAuth) Authenticate(_ context.Context, user, pass string) (*accounts.Account, error) {
	f.calls.Add(1)
	a, ok := f.accounts[user]
	if !ok || a.pass != pass {
		return nil, accounts.ErrInvalidCredentials
	}
	if a.err != nil {
		return nil, &accounts.AccountError{Account: a.acct, Err: a.err}
	}
	return a.acct, nil
}

// recorded is one request as the upstream saw it.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
}

// upstream records every request and answers with handler.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone()})
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.reqs...)
}

func acct(name string, grants ...policy.Grant) *accounts.Account {
	return &accounts.Account{Name: name, Grants: grants}
}

func grant(ns string, l policy.Level) policy.Grant { return policy.Grant{Namespace: ns, Level: l} }

type fixture struct {
	gw   *Gateway
	auth *fakeAuth
	up   *upstream
	srv  *httptest.Server
}

func newFixture(t *testing.T, h http.HandlerFunc, opts ...func(*Options)) *fixture {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	}
	up := newUpstream(t, h)
	expires := time.Now().Add(72 * time.Hour)
	auth := &fakeAuth{accounts: map[string]fakeAccount{
		"tcr$rw":       {pass: "rw-Pass1", acct: acct("tcr$rw", grant("team-a", policy.LevelReadWrite))},
		"tcr$ro":       {pass: "ro-Pass1", acct: acct("tcr$ro", grant("team-a", policy.LevelReadOnly))},
		"tcr$off":      {pass: "off-Pass1", acct: acct("tcr$off"), err: accounts.ErrDisabled},
		"tcr$old":      {pass: "old-Pass1", acct: &accounts.Account{Name: "tcr$old", ExpiresAt: &expires}, err: accounts.ErrExpired},
		"tcr$expiring": {pass: "exp-Pass1", acct: &accounts.Account{Name: "tcr$expiring", ExpiresAt: &expires, Grants: []policy.Grant{grant("team-a", policy.LevelReadOnly)}}},
	}}
	pol, err := policy.New([]string{"public"})
	require.NoError(t, err)
	u, _ := url.Parse(up.URL)
	o := Options{Upstream: u, Authenticator: auth, Policy: pol, Realm: "robotgate-test", WarnBefore: 7 * 24 * time.Hour,
		Transport: &BasicAuth{Base: NewTransport(TransportOptions{}), Host: u.Host, Username: "gateway", Password: "upstream-secret"}}
	for _, f := range opts {
		f(&o)
	}
	gw, err := New(o)
	require.NoError(t, err)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &fixture{gw: gw, auth: auth, up: up, srv: srv}
}

func (f *fixture) do(t *testing.T, method, path, user, pass string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	// Send the path exactly as written, escapes and all.
	rawPath, _, _ := strings.Cut(path, "?")
	req.URL.Opaque = "//" + req.URL.Host + rawPath
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type ociError struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

func decodeError(t *testing.T, resp *http.Response) (code, message string) {
	t.Helper()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-API-Version"))
	var e ociError
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Len(t, e.Errors, 1)
	assert.NotEmpty(t, e.Errors[0].Detail, "detail must be present")
	return e.Errors[0].Code, e.Errors[0].Message
}

// TestRefusals: every refusal has its status, code and message, and none
// reaches the upstream; none refused before the credential step runs a
// credential check.
func TestRefusals(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name       string
		method     string
		path       string
		user, pass string
		status     int
		code       string
		message    string
		authCalled bool
	}{
		{"anonymous base", "GET", "/v2/", "", "", 401, "UNAUTHORIZED", "authentication required", false},
		{"anonymous pull private", "GET", "/v2/team-a/app/manifests/v1", "", "", 401, "UNAUTHORIZED", "authentication required", false},
		{"anonymous push public", "PUT", "/v2/public/app/manifests/v1", "", "", 401, "UNAUTHORIZED", "", false},
		{"wrong password", "GET", "/v2/team-a/app/manifests/v1", "tcr$rw", "nope", 401, "UNAUTHORIZED", "invalid username or password", true},
		{"unknown user", "GET", "/v2/team-a/app/manifests/v1", "tcr$ghost", "nope", 401, "UNAUTHORIZED", "invalid username or password", true},
		{"wrong password on public is not anonymous", "GET", "/v2/public/app/manifests/v1", "tcr$rw", "nope", 401, "UNAUTHORIZED", "invalid username or password", true},
		{"disabled", "GET", "/v2/", "tcr$off", "off-Pass1", 401, "UNAUTHORIZED", "account tcr$off is disabled", true},
		{"expired", "GET", "/v2/", "tcr$old", "old-Pass1", 401, "UNAUTHORIZED", "account tcr$old expired on", true},
		{"read-only push", "PUT", "/v2/team-a/app/manifests/v1", "tcr$ro", "ro-Pass1", 403, "DENIED", "account tcr$ro may not push to namespace team-a", true},
		{"read-only upload", "POST", "/v2/team-a/app/blobs/uploads/", "tcr$ro", "ro-Pass1", 403, "DENIED", "may not push to namespace team-a", true},
		{"read-write delete", "DELETE", "/v2/team-a/app/manifests/" + dgst, "tcr$rw", "rw-Pass1", 403, "DENIED", "may not delete in namespace team-a", true},
		{"other namespace", "GET", "/v2/team-b/app/manifests/v1", "tcr$rw", "rw-Pass1", 403, "DENIED", "may not pull from namespace team-b", true},
		{"dot dot", "GET", "/v2/team-a/../team-b/manifests/v1", "tcr$rw", "rw-Pass1", 400, "NAME_INVALID", "invalid repository name", false},
		{"escaped slash", "GET", "/v2/team-a%2Fx/manifests/v1", "tcr$rw", "rw-Pass1", 400, "NAME_INVALID", "", false},
		{"double slash", "GET", "/v2/team-a//x/manifests/v1", "tcr$rw", "rw-Pass1", 400, "NAME_INVALID", "", false},
		{"upper case", "GET", "/v2/Team-a/manifests/v1", "tcr$rw", "rw-Pass1", 400, "NAME_INVALID", "", false},
		{"bad digest", "GET", "/v2/team-a/blobs/sha256:nothex", "tcr$rw", "rw-Pass1", 400, "DIGEST_INVALID", "invalid digest", false},
		{"unknown route", "GET", "/v2/team-a/app/unknown", "tcr$rw", "rw-Pass1", 404, "UNSUPPORTED", "no registry route", false},
		{"outside v2", "GET", "/debug/vars", "tcr$rw", "rw-Pass1", 404, "UNSUPPORTED", "", false},
		{"trailing slash", "GET", "/v2/team-a/app/tags/list/", "tcr$rw", "rw-Pass1", 404, "UNSUPPORTED", "", false},
		{"unknown method", "OPTIONS", "/v2/team-a/app/manifests/v1", "tcr$rw", "rw-Pass1", 405, "UNSUPPORTED", "not allowed", false},
		{"post manifest", "POST", "/v2/team-a/app/manifests/v1", "tcr$rw", "rw-Pass1", 405, "UNSUPPORTED", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auth.calls.Load()
			resp := f.do(t, tt.method, tt.path, tt.user, tt.pass)
			assert.Equal(t, tt.status, resp.StatusCode)
			code, msg := decodeError(t, resp)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, msg, tt.message)
			assert.NotContains(t, msg, tt.pass+"x", "never echo a password")
			if tt.pass != "" {
				assert.NotContains(t, msg, tt.pass)
			}
			if tt.status == 401 {
				assert.Equal(t, `Basic realm="robotgate-test"`, resp.Header.Get("WWW-Authenticate"))
			}
			if tt.status == 405 {
				assert.NotEmpty(t, resp.Header.Get("Allow"))
			}
			assert.Equal(t, tt.authCalled, f.auth.calls.Load() > before, "credential check ran?")
		})
	}
	assert.Empty(t, f.up.requests(), "no refused request may reach the upstream")
}

// TestNonBasicAuthorizationRefused: a Bearer or broken header is refused,
// never treated as anonymous (even on a public namespace).
func TestNonBasicAuthorizationRefused(t *testing.T) {
	f := newFixture(t, nil)
	for _, h := range []string{"Bearer abc", "Basic !!!", "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon"))} {
		resp := f.do(t, "GET", "/v2/public/app/manifests/v1", "", "", "Authorization", h)
		assert.Equal(t, 401, resp.StatusCode, h)
	}
	assert.Empty(t, f.up.requests())
}

// TestForwarding: allowed requests reach the upstream with the canonical
// path, the gateway's credentials instead of the client's, and every other
// header intact in both directions.
func TestForwarding(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", dgst)
		w.Header().Set("OCI-Subject", dgst)
		w.Header().Set("Content-Range", "bytes 0-3/10")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must be dropped")
		w.WriteHeader(http.StatusPartialContent)
		_, _ = io.WriteString(w, "data")
	})
	resp := f.do(t, "GET", "/v2/team-a/app/blobs/sha256%3A"+dgst[7:]+"?x=1", "tcr$ro", "ro-Pass1",
		"Accept", "application/vnd.oci.image.manifest.v1+json", "Accept", "application/vnd.docker.distribution.manifest.v2+json",
		"Range", "bytes=0-3", "X-Custom", "kept")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "data", string(body))
	assert.Equal(t, dgst, resp.Header.Get("Docker-Content-Digest"))
	assert.Equal(t, dgst, resp.Header.Get("OCI-Subject"))
	assert.Equal(t, "bytes 0-3/10", resp.Header.Get("Content-Range"))
	assert.Empty(t, resp.Header.Get("X-Hop"), "hop-by-hop header dropped")

	reqs := f.up.requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	assert.Equal(t, "/v2/team-a/app/blobs/"+dgst, got.Path)
	assert.Equal(t, "x=1", got.RawQuery)
	user, pass, ok := (&http.Request{Header: got.Header}).BasicAuth()
	require.True(t, ok)
	assert.Equal(t, "gateway", user, "the gateway's own upstream credentials")
	assert.Equal(t, "upstream-secret", pass)
	assert.Equal(t, []string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"}, got.Header.Values("Accept"))
	assert.Equal(t, "bytes=0-3", got.Header.Get("Range"))
	assert.Equal(t, "kept", got.Header.Get("X-Custom"))
	assert.Empty(t, got.Header.Get("Accept-Encoding"), "the transport must not negotiate compression")
}

// TestNoUpstreamCredentials: without [upstream] username the client's
// Authorization still never goes upstream.
func TestNoUpstreamCredentials(t *testing.T) {
	f := newFixture(t, nil, func(o *Options) { o.Transport = nil })
	resp := f.do(t, "GET", "/v2/team-a/app/manifests/v1", "tcr$ro", "ro-Pass1")
	require.Equal(t, 200, resp.StatusCode)
	reqs := f.up.requests()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Header.Get("Authorization"))
}

func TestLocationAndLinkRewrite(t *testing.T) {
	var upHost string
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST":
			w.Header().Set("Location", "http://"+upHost+"/v2/team-a/app/blobs/uploads/abc?_state=xyz")
			w.WriteHeader(http.StatusAccepted)
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			w.Header().Add("Link", `<http://`+upHost+`/v2/team-a/app/tags/list?last=b&n=1>; rel="next"`)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name":"team-a/app","tags":["b"]}`)
		default:
			w.Header().Set("Location", "https://storage.example.net/bucket/blob?sig=1")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}
	})
	upHost = strings.TrimPrefix(f.up.URL, "http://")

	resp := f.do(t, "POST", "/v2/team-a/app/blobs/uploads/", "tcr$rw", "rw-Pass1")
	assert.Equal(t, 202, resp.StatusCode)
	assert.Equal(t, "/v2/team-a/app/blobs/uploads/abc?_state=xyz", resp.Header.Get("Location"))

	resp = f.do(t, "GET", "/v2/team-a/app/tags/list?n=1", "tcr$rw", "rw-Pass1")
	assert.Equal(t, `</v2/team-a/app/tags/list?last=b&n=1>; rel="next"`, resp.Header.Get("Link"))

	resp = f.do(t, "GET", "/v2/team-a/app/blobs/"+dgst, "tcr$rw", "rw-Pass1")
	assert.Equal(t, 307, resp.StatusCode)
	assert.Equal(t, "https://storage.example.net/bucket/blob?sig=1", resp.Header.Get("Location"), "other hosts untouched")
}

// TestMountNeedsPullOnFrom: a mount from a namespace the account cannot
// read is turned into a plain upload; from a readable one it passes.
func TestMountNeedsPullOnFrom(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	auth := f.auth.accounts["tcr$rw"]
	auth.acct.Grants = append(auth.acct.Grants, grant("base", policy.LevelReadOnly))
	tests := []struct {
		name, query, want string
	}{
		{"from not readable", "mount=" + dgst + "&from=team-b/secret", ""},
		{"no from", "mount=" + dgst, ""},
		{"bad from", "mount=" + dgst + "&from=../x", ""},
		{"two froms", "mount=" + dgst + "&from=base/x&from=team-b/y", ""},
		{"from readable", "mount=" + dgst + "&from=base/img", "from=base%2Fimg&mount=" + url.QueryEscape(dgst)},
		{"from public", "mount=" + dgst + "&from=public/img", "from=public%2Fimg&mount=" + url.QueryEscape(dgst)},
		{"other params kept", "digest=" + dgst + "&mount=" + dgst + "&from=team-b/x", "digest=" + url.QueryEscape(dgst)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(t, "POST", "/v2/team-a/app/blobs/uploads/?"+tt.query, "tcr$rw", "rw-Pass1")
			assert.Equal(t, 202, resp.StatusCode)
			reqs := f.up.requests()
			require.Len(t, reqs, i+1)
			assert.Equal(t, tt.want, reqs[i].RawQuery)
		})
	}
}

func TestCatalogFiltered(t *testing.T) {
	all := []string{"base/img", "public/lib", "team-a/app", "team-a/web", "team-b/secret", "team-c/x", "zeta/y"}
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		// Two upstream pages of at most 4, with a relative Link.
		q := r.URL.Query()
		start := 0
		if last := q.Get("last"); last != "" {
			for i, n := range all {
				if n == last {
					start = i + 1
				}
			}
		}
		end := min(start+4, len(all))
		if end < len(all) {
			w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?last=%s&n=4>; rel="next"`, all[end-1]))
		}
		_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": all[start:end]})
	})
	f.auth.accounts["tcr$rw"].acct.Grants = append(f.auth.accounts["tcr$rw"].acct.Grants, grant("zeta", policy.LevelReadOnly))
	get := func(query string) ([]string, string) {
		resp := f.do(t, "GET", "/v2/_catalog"+query, "tcr$rw", "rw-Pass1")
		require.Equal(t, 200, resp.StatusCode)
		var body struct{ Repositories []string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return body.Repositories, resp.Header.Get("Link")
	}
	repos, link := get("")
	assert.Equal(t, []string{"public/lib", "team-a/app", "team-a/web", "zeta/y"}, repos)
	assert.Empty(t, link)

	repos, link = get("?n=2")
	assert.Equal(t, []string{"public/lib", "team-a/app"}, repos)
	assert.Equal(t, `</v2/_catalog?last=team-a%2Fapp&n=2>; rel="next"`, link)
	repos, link = get("?n=2&last=team-a%2Fapp")
	assert.Equal(t, []string{"team-a/web", "zeta/y"}, repos)
	assert.Empty(t, link)
	repos, _ = get("?n=0")
	assert.Empty(t, repos)

	resp := f.do(t, "GET", "/v2/_catalog?n=-1", "tcr$rw", "rw-Pass1")
	assert.Equal(t, 400, resp.StatusCode)
	resp = f.do(t, "GET", "/v2/_catalog", "", "")
	assert.Equal(t, 401, resp.StatusCode)
	for _, r := range f.up.requests() {
		assert.Equal(t, "/v2/_catalog", r.Path)
		assert.Equal(t, "gateway", basicUser(r.Header))
	}
}

func basicUser(h http.Header) string {
	u, _, _ := (&http.Request{Header: h}).BasicAuth()
	return u
}

func TestUpstreamFaults(t *testing.T) {
	t.Run("upstream 401 is the operator's problem", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
			w.WriteHeader(401)
		})
		resp := f.do(t, "GET", "/v2/team-a/app/manifests/v1", "tcr$ro", "ro-Pass1")
		assert.Equal(t, 502, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "the upstream challenge never reaches the client")
		code, msg := decodeError(t, resp)
		assert.Equal(t, "UNAVAILABLE", code)
		assert.Contains(t, msg, "refused the gateway's own credentials")
	})
	t.Run("unreachable", func(t *testing.T) {
		f := newFixture(t, nil)
		f.up.Close()
		resp := f.do(t, "GET", "/v2/team-a/app/manifests/v1", "tcr$ro", "ro-Pass1")
		assert.Equal(t, 502, resp.StatusCode)
		code, msg := decodeError(t, resp)
		assert.Equal(t, "UNAVAILABLE", code)
		assert.Contains(t, msg, "unavailable")
	})
	t.Run("other answers pass through", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)
		})
		resp := f.do(t, "GET", "/v2/team-a/app/manifests/v1", "tcr$ro", "ro-Pass1")
		assert.Equal(t, 404, resp.StatusCode)
		body, _ := io.ReadAll(resp.Body)
		assert.Contains(t, string(body), "MANIFEST_UNKNOWN")
	})
}

func TestExpiryWarning(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.do(t, "GET", "/v2/team-a/app/manifests/v1", "tcr$expiring", "exp-Pass1")
	assert.Equal(t, 200, resp.StatusCode)
	w := resp.Header.Get("Warning")
	assert.True(t, strings.HasPrefix(w, `299 - "service account tcr$expiring expires on `), w)
	assert.Contains(t, w, "(in 3 days)")
	resp = f.do(t, "GET", "/v2/team-a/app/manifests/v1", "tcr$ro", "ro-Pass1")
	assert.Empty(t, resp.Header.Get("Warning"), "a permanent account gets no warning")
}

func TestAnonymousPublicPull(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.do(t, "GET", "/v2/public/lib/manifests/v1", "", "")
	assert.Equal(t, 200, resp.StatusCode)
	reqs := f.up.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "gateway", basicUser(reqs[0].Header))
}

func testNow() time.Time { return time.Now() }
