package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start runs a registry on dir and closes it when the test ends.
func start(t *testing.T, dir string) *Registry {
	t.Helper()
	reg, err := Start(t.Context(), Options{DataDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, reg.Close(context.Background())) })
	return reg
}

// ref names repo (with tag) on the registry's fake host.
func ref(t *testing.T, reg *Registry, repo string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(reg.URL().Host+"/"+repo, name.Insecure)
	require.NoError(t, err)
	require.Equal(t, reg.URL().Host, r.Context().RegistryStr(), "the fake host parses as a registry")
	return r
}

// push writes a random image to repo and returns it.
func push(t *testing.T, reg *Registry, repo string) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref(t, reg, repo), img, remote.WithTransport(reg.Transport())))
	return img
}

// pulledDigest pulls repo and returns its manifest digest.
func pulledDigest(t *testing.T, reg *Registry, repo string) v1.Hash {
	t.Helper()
	img, err := remote.Image(ref(t, reg, repo), remote.WithTransport(reg.Transport()))
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	return d
}

// do sends one request to the registry and returns status, headers and body.
func do(t *testing.T, reg *Registry, method, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, reg.URL().String()+path, bytes.NewReader(body))
	require.NoError(t, err)
	client := &http.Client{Transport: reg.Transport()}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	return d
}

func TestPushPull(t *testing.T) {
	reg := start(t, t.TempDir())
	img := push(t, reg, "team-a/app:v1")
	assert.Equal(t, digestOf(t, img), pulledDigest(t, reg, "team-a/app:v1"))

	pulled, err := remote.Image(ref(t, reg, "team-a/app:v1"), remote.WithTransport(reg.Transport()))
	require.NoError(t, err)
	want, err := img.Layers()
	require.NoError(t, err)
	got, err := pulled.Layers()
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		wd, _ := want[i].Digest()
		gd, _ := got[i].Digest()
		assert.Equal(t, wd, gd, "layer %d", i)
	}
}

func TestDeleteManifestEnabled(t *testing.T) {
	reg := start(t, t.TempDir())
	d := digestOf(t, push(t, reg, "team-a/app:v1"))

	status, _, body := do(t, reg, http.MethodDelete, "/v2/team-a/app/manifests/"+d.String(), nil)
	assert.Equal(t, http.StatusAccepted, status, string(body))
	status, _, _ = do(t, reg, http.MethodGet, "/v2/team-a/app/manifests/"+d.String(), nil)
	assert.Equal(t, http.StatusNotFound, status)
}

func TestCatalogPaginates(t *testing.T) {
	reg := start(t, t.TempDir())
	push(t, reg, "team-a/app:v1")

	for _, path := range []string{"/v2/_catalog?n=10", "/v2/_catalog"} {
		status, _, body := do(t, reg, http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		var cat struct{ Repositories []string }
		require.NoError(t, json.Unmarshal(body, &cat))
		assert.Equal(t, []string{"team-a/app"}, cat.Repositories, path)
	}
}

func TestBlobsLinkedPerRepository(t *testing.T) {
	reg := start(t, t.TempDir())
	img := push(t, reg, "team-a/app:v1")
	layers, err := img.Layers()
	require.NoError(t, err)
	layer, err := layers[0].Digest()
	require.NoError(t, err)

	status, _, _ := do(t, reg, http.MethodHead, "/v2/team-a/app/blobs/"+layer.String(), nil)
	assert.Equal(t, http.StatusOK, status)
	status, _, _ = do(t, reg, http.MethodHead, "/v2/team-b/app/blobs/"+layer.String(), nil)
	assert.Equal(t, http.StatusNotFound, status)
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(t.Context(), Options{DataDir: dir})
	require.NoError(t, err)
	want := digestOf(t, push(t, first, "team-a/app:v1"))
	secret, err := os.ReadFile(filepath.Join(dir, secretFile))
	require.NoError(t, err)
	require.NoError(t, first.Close(t.Context()))

	second := start(t, dir)
	assert.Equal(t, want, pulledDigest(t, second, "team-a/app:v1"))
	again, err := os.ReadFile(filepath.Join(dir, secretFile))
	require.NoError(t, err)
	assert.Equal(t, secret, again, "secret reused")
	assert.DirExists(t, filepath.Join(dir, "docker", "registry", "v2"), "standalone registry layout")
}

// An upload started before a restart finishes after it: the signed _state
// in the Location is accepted because the secret is persisted. The Location
// is relative, so the fake host name never reaches a client.
func TestUploadSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(t.Context(), Options{DataDir: dir})
	require.NoError(t, err)
	status, h, body := do(t, first, http.MethodPost, "/v2/team-a/app/blobs/uploads/", nil)
	require.Equal(t, http.StatusAccepted, status, string(body))
	loc := h.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/v2/team-a/app/blobs/uploads/"), loc)
	require.NoError(t, first.Close(t.Context()))

	second := start(t, dir)
	blob := []byte("hello, embedded registry")
	d := digest.FromBytes(blob)
	status, _, body = do(t, second, http.MethodPut, loc+"&digest="+d.String(), blob)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, _, got := do(t, second, http.MethodGet, "/v2/team-a/app/blobs/"+d.String(), nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, blob, got)
}

func TestSocketDirPrivateAndRemoved(t *testing.T) {
	reg, err := Start(t.Context(), Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	fi, err := os.Stat(reg.sockDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	fi, err = os.Stat(reg.sockPath)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())

	require.NoError(t, reg.Close(t.Context()))
	assert.NoDirExists(t, reg.sockDir)
	assert.NoError(t, reg.Close(t.Context()), "second Close")
}

func TestTransport(t *testing.T) {
	reg := start(t, t.TempDir())
	tr := reg.Transport()
	assert.Nil(t, tr.Proxy, "no proxy from the environment")
	assert.True(t, tr.DisableCompression)
	require.NotNil(t, tr.Protocols)
	assert.True(t, tr.Protocols.HTTP1())
	assert.False(t, tr.Protocols.HTTP2())
	assert.Equal(t, "http://robotgate-embedded.invalid", reg.URL().String())

	// Whatever host a request names, it reaches the socket.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.com/v2/", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-API-Version"))
	tr.CloseIdleConnections()
}

func TestStartErrors(t *testing.T) {
	_, err := Start(t.Context(), Options{})
	assert.ErrorIs(t, err, ErrNoDataDir)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, secretFile), []byte("\n"), 0o600))
	_, err = Start(t.Context(), Options{DataDir: dir})
	assert.ErrorIs(t, err, ErrEmptySecret)

	// NewApp reports bad configuration by panicking; newApp returns it.
	_, err = newApp(t.Context(), &configuration.Configuration{Storage: configuration.Storage{"no-such-driver": {}}})
	assert.ErrorContains(t, err, "no-such-driver")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = Start(ctx, Options{DataDir: t.TempDir()})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNothingListensAfterClose(t *testing.T) {
	reg, err := Start(t.Context(), Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, reg.Close(ctx))
	_, err = reg.Transport().RoundTrip(mustRequest(t, reg.URL().String()+"/v2/"))
	assert.Error(t, err, "nothing listens after Close")
}

func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

// Close stops every goroutine of the registry but one: distribution's App
// starts a go-events Broadcaster for notifications and offers no way to
// close it. This test notices if that changes, for better or worse.
func TestCloseLeavesOnlyEventBroadcaster(t *testing.T) {
	before := runtime.NumGoroutine()
	reg, err := Start(t.Context(), Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	push(t, reg, "team-a/app:v1")
	require.NoError(t, reg.Close(t.Context()))

	var stacks strings.Builder
	// Polled by hand: assert.Eventually runs its condition in goroutines
	// of its own, which would be counted.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before+1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+1)
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&stacks, 1))
	assert.Contains(t, stacks.String(), "go-events.(*Broadcaster).run")
	if t.Failed() {
		t.Logf("goroutines before %d, now %d:\n%s", before, runtime.NumGoroutine(), &stacks)
	}
}
