package e2e

// Fixtures of upstream_test.go: the crane CLI, a spy in front of the
// gateway, and upstreams that misbehave on purpose (TLS with h2 offered,
// storage redirects, connections cut mid-blob, stop and start).

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// craneCLI runs the real crane binary, logged in to one registry host
// through a private DOCKER_CONFIG.
type craneCLI struct {
	t   testing.TB
	bin string
	env []string
}

// newCraneCLI logs user in to host. caFile, when set, is the only CA crane
// trusts (SSL_CERT_FILE).
func newCraneCLI(t testing.TB, host, user, pass, caFile string) *craneCLI {
	t.Helper()
	bin, err := exec.LookPath("crane")
	if err != nil {
		bin = filepath.Join(os.Getenv("HOME"), ".cache", "robotgate-tools", "bin", "crane")
	}
	c := &craneCLI{t: t, bin: bin, env: append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())}
	if caFile != "" {
		c.env = append(c.env, "SSL_CERT_FILE="+caFile, "SSL_CERT_DIR=/nonexistent")
	}
	if user != "" {
		c.must("auth", "login", host, "-u", user, "-p", pass)
	}
	return c
}

// run returns combined output and the error (nil on exit 0).
func (c *craneCLI) run(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *craneCLI) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	require.NoError(c.t, err, "crane %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(out)
}

// imageTarball writes a random image with layers of size bytes and returns
// the tarball path and the image's digest.
func imageTarball(t testing.TB, size int64, layers int) (path, digest string) {
	t.Helper()
	img, err := random.Image(size, int64(layers))
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	path = filepath.Join(t.TempDir(), "image.tar")
	ref, err := name.ParseReference("example.invalid/image:latest")
	require.NoError(t, err)
	require.NoError(t, tarball.WriteToFile(path, ref, img))
	return path, d.String()
}

// pushPull pushes a fresh image to ref with crane and pulls it back,
// checking the digest both ways.
func pushPull(t testing.TB, c *craneCLI, ref string, extra ...string) {
	t.Helper()
	tar, digest := imageTarball(t, 64<<10, 2)
	c.must(append([]string{"push", tar, ref}, extra...)...)
	assert.Equal(t, digest, c.must(append([]string{"digest", ref}, extra...)...))
	out := filepath.Join(t.TempDir(), "pulled.tar")
	c.must(append([]string{"pull", ref, out}, extra...)...)
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), int64(128<<10), "both layers pulled")
}

// clientSpy sits between a client and the gateway and records every
// answer the client got: the proof of what a client sees.
type clientSpy struct {
	Host string
	mu   sync.Mutex
	seen []spyAnswer
}

type spyAnswer struct {
	Method, Path string
	Status       int
	Challenge    string
}

func newClientSpy(t testing.TB, gatewayURL string) *clientSpy {
	u, err := url.Parse(gatewayURL)
	require.NoError(t, err)
	s := &clientSpy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		s.mu.Lock()
		s.seen = append(s.seen, spyAnswer{resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("WWW-Authenticate")})
		s.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	s.Host = strings.TrimPrefix(srv.URL, "http://")
	return s
}

func (s *clientSpy) answers() []spyAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]spyAnswer(nil), s.seen...)
}

// ociError is the first entry of an OCI error body.
func ociError(t testing.TB, body string) (code, message string) {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Errors, body)
	return e.Errors[0].Code, e.Errors[0].Message
}

// sendAs sends one request with Basic credentials and no redirect following.
func sendAs(t testing.TB, client *http.Client, method, target, user, pass string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// requireUnavailable checks a gateway answered 502 UNAVAILABLE with a
// message containing want.
func requireUnavailable(t testing.TB, resp *http.Response, body, want string) {
	t.Helper()
	require.Equal(t, http.StatusBadGateway, resp.StatusCode, body)
	code, msg := ociError(t, body)
	assert.Equal(t, "UNAVAILABLE", code)
	assert.Contains(t, msg, want)
}

// tlsRegistry is go-containerregistry's registry behind httptest's TLS
// server (HTTP/2 offered), recording the protocol of each request.
type tlsRegistry struct {
	*httptest.Server
	CAFile string
	mu     sync.Mutex
	protos map[string]int
}

func newTLSRegistry(t testing.TB) *tlsRegistry {
	r := &tlsRegistry{protos: map[string]int{}}
	h := memRegistry()
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.protos[req.Proto]++
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	r.EnableHTTP2 = true
	r.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point of a test
	r.StartTLS()
	t.Cleanup(r.Close)
	r.CAFile = filepath.Join(t.TempDir(), "upstream-ca.pem")
	require.NoError(t, os.WriteFile(r.CAFile, pemBlock("CERTIFICATE", r.Certificate().Raw), 0o600))
	return r
}

func protoNames(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// redirectingUpstream requires Basic gw:pw and answers blob GET/HEAD of
// repositories under team-a/far with a 307 to a separate storage server
// (signed-looking query), and of team-a/near with a 307 to a path on its own
// host. Both storage endpoints record the Authorization they receive.
type redirectingUpstream struct {
	*httptest.Server
	storage *httptest.Server
	mu      sync.Mutex
	auths   []string // Authorization at the storage endpoints
}

func newRedirectingUpstream(t testing.TB) *redirectingUpstream {
	u := &redirectingUpstream{}
	inner := memRegistry()
	serveBlob := func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.auths = append(u.auths, r.Header.Get("Authorization"))
		u.mu.Unlock()
		if r.URL.Query().Get("sig") != "s3cr3t" {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		// The blob's registry path travels in the query, as a bucket key.
		req := httptest.NewRequest(r.Method, r.URL.Query().Get("key"), nil)
		inner.ServeHTTP(w, req)
	}
	u.storage = httptest.NewServer(http.HandlerFunc(serveBlob))
	t.Cleanup(u.storage.Close)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_storage" {
			serveBlob(w, r)
			return
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != "gw" || pass != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="up"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		isBlob := strings.Contains(r.URL.Path, "/blobs/sha256:") && (r.Method == "GET" || r.Method == "HEAD")
		q := url.Values{"key": {r.URL.Path}, "sig": {"s3cr3t"}}.Encode()
		switch {
		case isBlob && strings.HasPrefix(r.URL.Path, "/v2/team-a/far/"):
			http.Redirect(w, r, u.storage.URL+"/bucket?"+q, http.StatusTemporaryRedirect)
		case isBlob && strings.HasPrefix(r.URL.Path, "/v2/team-a/near/"):
			http.Redirect(w, r, "/_storage?"+q, http.StatusFound)
		default:
			inner.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *redirectingUpstream) storageAuths() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.auths...)
}

// firstLayer is the digest of the first layer of ref.
func firstLayer(t testing.TB, c *craneCLI, ref string) string {
	t.Helper()
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.must("manifest", ref)), &m))
	require.NotEmpty(t, m.Layers)
	return m.Layers[0].Digest
}

// flakyUpstream is go-containerregistry's registry that can cut blob
// downloads after cutAfter bytes (hijack and close) and be stopped and
// started again on the same port.
type flakyUpstream struct {
	t        testing.TB
	addr     string
	handler  http.Handler
	srv      *httptest.Server
	mu       sync.Mutex
	cutAfter int
}

func newFlakyUpstream(t testing.TB) *flakyUpstream {
	f := &flakyUpstream{t: t}
	inner := memRegistry()
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		cut := f.cutAfter
		f.mu.Unlock()
		if cut == 0 || r.Method != "GET" || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || rec.Body.Len() <= cut {
			copyRecorded(w, rec)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", rec.Body.Len())
		_, _ = buf.Write(rec.Body.Bytes()[:cut])
		_ = buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a clean close
		}
	})
	f.Start()
	return f
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *flakyUpstream) URL() string { return "http://" + f.addr }

// Start listens on the same address as before (a free one the first time).
func (f *flakyUpstream) Start() {
	f.t.Helper()
	addr := f.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(f.t, err)
	f.addr = ln.Addr().String()
	f.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.handler}}
	f.srv.Start()
	f.t.Cleanup(f.srv.Close)
}

func (f *flakyUpstream) Stop() { f.srv.CloseClientConnections(); f.srv.Close() }

func (f *flakyUpstream) cut(n int) {
	f.mu.Lock()
	f.cutAfter = n
	f.mu.Unlock()
}

func digestOf(body string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body)))
}

// memRegistry is go-containerregistry's in-memory registry handler.
func memRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}
