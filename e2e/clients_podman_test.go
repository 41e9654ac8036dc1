package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientPodman drives podman as root without a daemon, with vfs
// storage, containers.conf, registries.conf, auth file and TMPDIR all in a
// temporary directory: login, push of an imported image, pull back after
// removing it, push team-a -> team-b, refused pushes.
func TestClientPodman(t *testing.T) {
	t.Parallel()
	clTimer(t)
	podman := clTool(t, "podman")
	f := clStart(t)
	ci, ro := newClEnv(t), newClEnv(t)
	im := clMakeImage(t, filepath.Join(ci.Dir, "img"), 256<<10, nil)
	src, dst := f.ref("team-a/podman/app:v1"), f.ref("team-b/podman/app:v1")

	out := ci.must("", f.rwPass+"\n", podman, "login", "--tls-verify=false", "-u", f.rwUser, "--password-stdin", f.g.Addr)
	require.Contains(t, out, "Login Succeeded!")
	require.Contains(t, string(clReadFile(t, filepath.Join(ci.Dir, "auth.json"))), f.g.Addr)
	ro.must("", f.roPass+"\n", podman, "login", "--tls-verify=false", "-u", f.roUser, "--password-stdin", f.g.Addr)

	// Push an image made with podman import of the Go-built layer.
	ci.must("", "", podman, "import", im.LayerTar, src)
	digestFile := filepath.Join(ci.Dir, "pushed.digest")
	ci.must("", "", podman, "push", "--tls-verify=false", "--digestfile", digestFile, src)
	pushed := strings.TrimSpace(string(clReadFile(t, digestFile)))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, pushed)
	got, _ := f.manifest(t, f.rwUser, f.rwPass, "team-a/podman/app", "v1")
	require.Equal(t, pushed, got)

	// Pull: remove it locally first so the layer really comes back.
	ci.must("", "", podman, "rmi", "-f", src)
	ci.must("", "", podman, "pull", "--tls-verify=false", src)
	require.Equal(t, pushed, ci.stdout("", "", podman, "image", "inspect", "--format", "{{.Digest}}", src))
	saved := filepath.Join(ci.Dir, "saved.tar")
	ci.must("", "", podman, "save", "--format", "docker-archive", "-o", saved, src)
	require.Equal(t, im.Payload, clPayloadOfTarball(t, saved))

	// Copy: push the local image under team-b's name.
	digestFile = filepath.Join(ci.Dir, "copied.digest")
	ci.must("", "", podman, "push", "--tls-verify=false", "--digestfile", digestFile, src, "docker://"+dst)
	copied := strings.TrimSpace(string(clReadFile(t, digestFile)))
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/podman/app", "v1")
	require.Equal(t, copied, got)
	require.Equal(t, pushed, copied, "podman pushes the same manifest to team-b")

	// Refused: read-only (podman shows the gateway's message), and no
	// grant (the blob HEAD comes first: 403 without a body).
	ro.must("", "", podman, "import", im.LayerTar, f.ref("team-a/podman/denied:v1"))
	out = ro.refused("", "", podman, "push", "--tls-verify=false", f.ref("team-a/podman/denied:v1"))
	require.Contains(t, out, "denied: "+clDenyReadOnly)
	f.requireDenied(t, "tcr$ro", "team-a/podman/denied", clDenyReadOnly)

	out = ci.refused("", "", podman, "push", "--tls-verify=false", src, "docker://"+f.ref("team-c/podman/app:v1"))
	require.Contains(t, out, "failed to read from destination repository team-c/podman/app: 403 (Forbidden)")
}
