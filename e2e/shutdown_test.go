package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGracefulShutdown: SIGTERM lets an in-flight download finish, then the
// process exits 0; nothing new is accepted once it has stopped.
func TestGracefulShutdown(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			w.Header().Set("Content-Length", "8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "half")
			w.(http.Flusher).Flush()
			time.Sleep(1500 * time.Millisecond)
			_, _ = io.WriteString(w, "done")
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	g := StartGateway(t, GatewayOptions{Upstream: slow.URL})
	user, pass := g.CreateAccount("dl", "--grant", "team-a=ro")

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+g.Addr+"/v2/team-a/app/blobs/sha256:"+strings.Repeat("a", 64), nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()
	time.Sleep(500 * time.Millisecond) // the download is in flight
	require.NoError(t, g.cmd.Process.Signal(syscall.SIGTERM))

	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "halfdone", r.body, "the in-flight body was drained, not cut")
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit after draining")
	}
	assert.Equal(t, 0, g.cmd.ProcessState.ExitCode(), g.Stderr())
	assert.Contains(t, g.Stderr(), "shutting down; draining in-flight requests")
	assert.Contains(t, g.Stderr(), "robotgate stopped")
	_, err := http.Get("http://" + g.Addr + "/v2/")
	assert.Error(t, err, "nothing accepted after shutdown")
}
