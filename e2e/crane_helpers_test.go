package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"
)

// as returns crane options that log in with the given account (anonymous
// when user is empty) over plain HTTP.
func as(user, pass string) []crane.Option {
	opts := []crane.Option{crane.Insecure}
	if user != "" {
		opts = append(opts, crane.WithAuth(&authn.Basic{Username: user, Password: pass}))
	} else {
		opts = append(opts, crane.WithAuth(authn.Anonymous))
	}
	return opts
}

// rawDo sends one request to the gateway with Basic credentials and
// returns status, headers and body.
func rawDo(t testing.TB, method, url, user, pass string, body io.Reader, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// countingRegistry is go-containerregistry's registry in an httptest
// server that records every request path it receives.
type countingRegistry struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newCountingRegistry(t testing.TB) *countingRegistry {
	c := &countingRegistry{}
	reg := registry.New(registry.Logger(discardLogger()))
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths = append(c.paths, r.Method+" "+r.URL.RequestURI())
		c.mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *countingRegistry) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

func (c *countingRegistry) reset() {
	c.mu.Lock()
	c.paths = nil
	c.mu.Unlock()
}

// setAccountField rewrites one key of one account in the account file by
// hand, in place, as an operator with an editor would.
func setAccountField(t testing.TB, path, name, key, value string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(data)
	at := strings.Index(s, `name = "`+name+`"`)
	require.GreaterOrEqual(t, at, 0, "account %s not in file", name)
	end := strings.Index(s[at:], "[[account]]")
	if end < 0 {
		end = len(s) - at
	}
	block := s[at : at+end]
	lines := strings.Split(block, "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, key+" = ") {
			lines[i] = key + " = " + value
			found = true
		}
	}
	if !found {
		lines = append([]string{lines[0], key + " = " + value}, lines[1:]...)
	}
	s = s[:at] + strings.Join(lines, "\n") + s[at+end:]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
