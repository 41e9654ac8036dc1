package e2e

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientOras drives oras: login (checked), push of an OCI image made of
// a config and a gzip layer, pull back, oras cp team-a -> team-b, refused
// pushes. oras keeps its credentials in $DOCKER_CONFIG/config.json.
func TestClientOras(t *testing.T) {
	t.Parallel()
	clTimer(t)
	oras := clTool(t, "oras")
	f := clStart(t)
	ci, ro := newClEnv(t), newClEnv(t)
	im := clMakeImage(t, filepath.Join(ci.Dir, "img"), 256<<10, nil)
	src, dst := f.ref("team-a/oras/app:v1"), f.ref("team-b/oras/app:v1")

	// The files to push, next to each other: oras names layers by their
	// relative path (org.opencontainers.image.title).
	work := filepath.Join(ci.Dir, "push")
	require.NoError(t, os.MkdirAll(work, 0o700))
	cfg, err := im.Image.RawConfigFile()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "config.json"), cfg, 0o600))
	layers, err := im.Image.Layers()
	require.NoError(t, err)
	rc, err := layers[0].Compressed()
	require.NoError(t, err)
	layerBytes, err := io.ReadAll(rc)
	require.NoError(t, err)
	rc.Close()
	require.NoError(t, os.WriteFile(filepath.Join(work, "layer.tar.gz"), layerBytes, 0o600))

	out := ci.must("", f.rwPass, oras, "login", "--plain-http", "-u", f.rwUser, "--password-stdin", f.g.Addr)
	require.Contains(t, out, "Login Succeeded")
	ro.must("", f.roPass, oras, "login", "--plain-http", "-u", f.roUser, "--password-stdin", f.g.Addr)
	out = ci.refused("", "wrong-password", oras, "login", "--plain-http", "-u", f.rwUser, "--password-stdin", f.g.Addr)
	require.Contains(t, out, "unauthorized: invalid username or password")

	pushArgs := []string{"--plain-http", "--config", "config.json:application/vnd.oci.image.config.v1+json",
		"layer.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip"}
	out = ci.must(work, "", oras, append([]string{"push", src}, pushArgs...)...)
	pushed := clFirstDigest(t, out, "Digest:")
	got, body := f.manifest(t, f.rwUser, f.rwPass, "team-a/oras/app", "v1")
	require.Equal(t, pushed, got)
	var m struct {
		MediaType string                     `json:"mediaType"`
		Config    struct{ MediaType string } `json:"config"`
	}
	require.NoError(t, json.Unmarshal(body, &m))
	require.Equal(t, "application/vnd.oci.image.manifest.v1+json", m.MediaType, "a plain OCI image")
	require.Equal(t, "application/vnd.oci.image.config.v1+json", m.Config.MediaType)

	pulled := filepath.Join(ci.Dir, "pulled")
	ci.must("", "", oras, "pull", "--plain-http", "-o", pulled, src)
	require.Equal(t, layerBytes, clReadFile(t, filepath.Join(pulled, "layer.tar.gz")), "layer bytes pulled = pushed")
	require.Equal(t, im.Payload, clPayloadOfGzipLayer(t, filepath.Join(pulled, "layer.tar.gz")))
	var desc struct{ Digest string }
	require.NoError(t, json.Unmarshal([]byte(ci.stdout("", "", oras, "manifest", "fetch", "--plain-http", "--descriptor", src)), &desc))
	require.Equal(t, pushed, desc.Digest)

	ci.must("", "", oras, "cp", "--from-plain-http", "--to-plain-http", src, dst)
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/oras/app", "v1")
	require.Equal(t, pushed, got)

	// Read-only: oras checks the blobs with HEAD (allowed: pull), then the
	// upload POST shows the gateway's message.
	out = ro.refused(work, "", oras, append([]string{"push", f.ref("team-a/oras/denied:v1")}, pushArgs...)...)
	require.Contains(t, out, "Error response from registry: denied: "+clDenyReadOnly)
	f.requireDenied(t, "tcr$ro", "team-a/oras/denied", clDenyReadOnly)

	// No grant: oras's first request is HEAD on the manifest, 403 without
	// a body, so oras shows only the status.
	out = ci.refused(work, "", oras, append([]string{"push", f.ref("team-c/oras/app:v1")}, pushArgs...)...)
	require.Contains(t, out, `/v2/team-c/oras/app/`)
	require.Contains(t, out, "response status code 403: Forbidden")
}
