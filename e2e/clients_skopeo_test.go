package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientSkopeo drives skopeo: login (checked against /v2/), copy of a
// docker-archive to the gateway, copy back to a dir: layout whose files are
// checked byte for byte, registry-to-registry copy team-a -> team-b, and
// refused pushes.
func TestClientSkopeo(t *testing.T) {
	t.Parallel()
	clTimer(t)
	skopeo := clTool(t, "skopeo")
	f := clStart(t)
	ci, ro := newClEnv(t), newClEnv(t)
	im := clMakeImage(t, filepath.Join(ci.Dir, "img"), 256<<10, nil)
	src, dst := "docker://"+f.ref("team-a/skopeo/app:v1"), "docker://"+f.ref("team-b/skopeo/app:v1")

	// skopeo login checks the credentials; REGISTRY_AUTH_FILE is private.
	out := ci.must("", f.rwPass+"\n", skopeo, "login", "--tls-verify=false", "-u", f.rwUser, "--password-stdin", f.g.Addr)
	require.Contains(t, out, "Login Succeeded!")
	require.Contains(t, string(clReadFile(t, filepath.Join(ci.Dir, "auth.json"))), f.g.Addr)
	ro.must("", f.roPass+"\n", skopeo, "login", "--tls-verify=false", "-u", f.roUser, "--password-stdin", f.g.Addr)
	out = ci.refused("", "not-the-password\n", skopeo, "login", "--tls-verify=false", "-u", f.rwUser, "--password-stdin", f.g.Addr)
	require.Contains(t, out, "invalid username/password")

	// Push.
	digestFile := filepath.Join(ci.Dir, "pushed.digest")
	ci.must("", "", skopeo, "copy", "--dest-tls-verify=false", "--digestfile", digestFile, "docker-archive:"+im.Tarball, src)
	pushed := strings.TrimSpace(string(clReadFile(t, digestFile)))
	got, _ := f.manifest(t, f.rwUser, f.rwPass, "team-a/skopeo/app", "v1")
	require.Equal(t, pushed, got)

	// Pull into a dir: layout: manifest.json and one file per blob, named
	// by its hex digest.
	dir := filepath.Join(ci.Dir, "pulled")
	ci.must("", "", skopeo, "copy", "--src-tls-verify=false", src, "dir:"+dir)
	raw := clReadFile(t, filepath.Join(dir, "manifest.json"))
	sum := sha256.Sum256(raw)
	require.Equal(t, pushed, "sha256:"+hex.EncodeToString(sum[:]), "dir: keeps the manifest bytes as served")
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Len(t, m.Layers, 1)
	layerFile := filepath.Join(dir, strings.TrimPrefix(m.Layers[0].Digest, "sha256:"))
	lsum := sha256.Sum256(clReadFile(t, layerFile))
	require.Equal(t, m.Layers[0].Digest, "sha256:"+hex.EncodeToString(lsum[:]), "layer bytes match their digest")
	require.Equal(t, im.Payload, clPayloadOfGzipLayer(t, layerFile))

	// Copy registry to registry.
	digestFile = filepath.Join(ci.Dir, "copied.digest")
	ci.must("", "", skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--digestfile", digestFile, src, dst)
	require.Equal(t, pushed, strings.TrimSpace(string(clReadFile(t, digestFile))))
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/skopeo/app", "v1")
	require.Equal(t, pushed, got)

	// Read-only: the blob HEAD is allowed (pull) and the upload POST shows
	// the gateway's message.
	out = ro.refused("", "", skopeo, "copy", "--dest-tls-verify=false", "docker-archive:"+im.Tarball, "docker://"+f.ref("team-a/skopeo/denied:v1"))
	require.Contains(t, out, "denied: "+clDenyReadOnly)
	f.requireDenied(t, "tcr$ro", "team-a/skopeo/denied", clDenyReadOnly)

	// No grant: skopeo's first request is HEAD on a blob, refused 403
	// without a body, so skopeo can only show the status.
	out = ci.refused("", "", skopeo, "copy", "--dest-tls-verify=false", "docker-archive:"+im.Tarball, "docker://"+f.ref("team-c/skopeo/app:v1"))
	require.Contains(t, out, "failed to read from destination repository team-c/skopeo/app: 403 (Forbidden)")
}
