package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storageRecorder is object storage: it serves "blob-bytes" and records
// the Authorization header of every request.
type storageRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	auths []string
	urls  []string
}

func newStorageRecorder(t *testing.T) *storageRecorder {
	s := &storageRecorder{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.urls = append(s.urls, r.URL.String())
		s.mu.Unlock()
		w.Header().Set("Content-Length", "10")
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes 0-9/10")
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "blob-bytes")
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func TestFollowRedirects(t *testing.T) {
	storage := newStorageRecorder(t)
	var upMu sync.Mutex
	var upAuth []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upMu.Lock()
		upAuth = append(upAuth, r.Header.Get("Authorization"))
		upMu.Unlock()
		switch {
		case r.URL.Path == "/v2/a/blobs/loop":
			http.Redirect(w, r, "/v2/a/blobs/loop", http.StatusFound)
		case r.URL.Path == "/v2/a/blobs/same-host":
			w.Header().Set("Docker-Content-Digest", "sha256:abc")
			http.Redirect(w, r, "/storage/blob?sig=secret", http.StatusTemporaryRedirect)
		case r.URL.Path == "/storage/blob":
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "same-host-bytes")
		default:
			w.Header().Set("Docker-Content-Digest", "sha256:abc")
			http.Redirect(w, r, storage.srv.URL+"/bucket/blob?X-Amz-Signature=secret", http.StatusTemporaryRedirect)
		}
	}))
	defer up.Close()
	base := NewTransport(TransportOptions{})
	next := &BasicAuth{Base: base, Host: strings.TrimPrefix(up.URL, "http://"), Username: "gw", Password: "pw"}
	f := &FollowRedirects{Next: next, Direct: base, MaxHops: 3}

	send := func(method, path string, hdr http.Header) (*http.Response, string, error) {
		r, err := http.NewRequest(method, up.URL+path, nil)
		require.NoError(t, err)
		for k, v := range hdr {
			r.Header[k] = v
		}
		resp, err := f.RoundTrip(r)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}

	t.Run("GET to another host: body, no credentials, headers kept", func(t *testing.T) {
		resp, body, err := send("GET", "/v2/a/blobs/x", http.Header{"Range": {"bytes=0-9"}, "Authorization": {"Basic client"}})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "blob-bytes", body)
		assert.Equal(t, "sha256:abc", resp.Header.Get("Docker-Content-Digest"), "kept from the redirect")
		assert.Equal(t, "bytes 0-9/10", resp.Header.Get("Content-Range"), "Range reached the storage")
		storage.mu.Lock()
		assert.Equal(t, []string{""}, storage.auths)
		assert.Equal(t, "/bucket/blob?X-Amz-Signature=secret", storage.urls[0], "signed query unchanged")
		storage.mu.Unlock()
	})
	t.Run("HEAD is followed as HEAD", func(t *testing.T) {
		resp, body, err := send("HEAD", "/v2/a/blobs/x", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, body)
	})
	t.Run("same-host redirect without upstream credentials", func(t *testing.T) {
		upMu.Lock()
		upAuth = nil
		upMu.Unlock()
		resp, body, err := send("GET", "/v2/a/blobs/same-host", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "same-host-bytes", body)
		upMu.Lock()
		assert.Len(t, upAuth, 2)
		assert.True(t, strings.HasPrefix(upAuth[0], "Basic "), "the registry request has the gateway's credentials")
		assert.Equal(t, "", upAuth[1], "the redirect target does not")
		upMu.Unlock()
	})
	t.Run("too many hops fail", func(t *testing.T) {
		_, _, err := send("GET", "/v2/a/blobs/loop", nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "more than 3 times")
	})
	t.Run("other methods are not followed", func(t *testing.T) {
		resp, _, err := send("DELETE", "/v2/a/blobs/x", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	})
}

func TestFollowRedirectsKeepsSignedQueriesOutOfErrors(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/bucket/blob?X-Amz-Signature=secret", http.StatusTemporaryRedirect)
	}))
	defer up.Close()
	base := NewTransport(TransportOptions{})
	f := &FollowRedirects{Next: base, Direct: base}
	r, _ := http.NewRequest("GET", up.URL+"/v2/a/blobs/x", nil)
	_, err := f.RoundTrip(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http://127.0.0.1:1/bucket/blob")
	assert.NotContains(t, err.Error(), "secret")
}
