package e2e

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientCrane drives the crane binary: auth login, push of a docker
// tarball, pull back, crane copy team-a -> team-b, refused pushes.
func TestClientCrane(t *testing.T) {
	t.Parallel()
	clTimer(t)
	crane := clTool(t, "crane")
	f := clStart(t)
	ci, ro := newClEnv(t), newClEnv(t)
	im := clMakeImage(t, filepath.Join(ci.Dir, "img"), 256<<10, nil)
	src, dst := f.ref("team-a/crane/app:v1"), f.ref("team-b/crane/app:v1")

	// crane auth login stores the credentials without checking them
	// (RECIPES); the first push is what proves them.
	ci.must("", f.rwPass, crane, "auth", "login", f.g.Addr, "-u", f.rwUser, "--password-stdin")
	ro.must("", f.roPass, crane, "auth", "login", f.g.Addr, "-u", f.roUser, "--password-stdin")

	out := ci.must("", "", crane, "push", im.Tarball, src)
	wantDigest, err := im.Image.Digest()
	require.NoError(t, err)
	require.Contains(t, out, "team-a/crane/app@"+wantDigest.String(), "crane push prints the digest it pushed")
	got, _ := f.manifest(t, f.rwUser, f.rwPass, "team-a/crane/app", "v1")
	require.Equal(t, wantDigest.String(), got, "the registry serves the very manifest crane built")

	require.Equal(t, wantDigest.String(), ci.stdout("", "", crane, "digest", src))
	pulled := filepath.Join(ci.Dir, "pulled.tar")
	ci.must("", "", crane, "pull", src, pulled)
	require.Equal(t, im.Payload, clPayloadOfTarball(t, pulled))

	ci.must("", "", crane, "copy", src, dst)
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/crane/app", "v1")
	require.Equal(t, wantDigest.String(), got)

	// What each account may see: crane catalog walks the filtered
	// _catalog, crane ls the tags.
	require.Equal(t, "team-a/crane/app\nteam-b/crane/app", ci.stdout("", "", crane, "catalog", f.g.Addr))
	require.Equal(t, "team-a/crane/app", ro.stdout("", "", crane, "catalog", f.g.Addr), "tcr$ro may pull team-a only")
	require.Equal(t, "v1", ro.stdout("", "", crane, "ls", src[:len(src)-len(":v1")]))

	// Read-only: crane's first write is the upload POST, whose body it shows.
	out = ro.refused("", "", crane, "push", im.Tarball, f.ref("team-a/crane/denied:v1"))
	require.Contains(t, out, "DENIED: "+clDenyReadOnly)
	f.requireDenied(t, "tcr$ro", "team-a/crane/denied", clDenyReadOnly)

	// No grant: crane first asks HEAD .../blobs/<digest>, which needs pull
	// and so gets the 403 first; a HEAD answer has no body, and crane says so.
	out = ci.refused("", "", crane, "push", im.Tarball, f.ref("team-c/crane/app:v1"))
	require.Contains(t, out, "unexpected status code 403 Forbidden (HEAD responses have no body, use GET for details)")
	require.Contains(t, out, "/v2/team-c/crane/app/blobs/sha256:")
}
