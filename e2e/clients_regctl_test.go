package e2e

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientRegctl drives regctl: registry set --tls disabled, registry
// login, image import of a docker tarball, image export back, image copy
// team-a -> team-b, refused pushes. Its config lives in $HOME/.regctl.
func TestClientRegctl(t *testing.T) {
	t.Parallel()
	clTimer(t)
	regctl := clTool(t, "regctl")
	f := clStart(t)
	ci, ro := newClEnv(t), newClEnv(t)
	im := clMakeImage(t, filepath.Join(ci.Dir, "img"), 256<<10, nil)
	src, dst := f.ref("team-a/regctl/app:v1"), f.ref("team-b/regctl/app:v1")

	for _, a := range []struct {
		env        *clEnv
		user, pass string
	}{{ci, f.rwUser, f.rwPass}, {ro, f.roUser, f.roPass}} {
		// --skip-check: the ping it would do is unauthenticated, and the
		// gateway answers 401 (RECIPES).
		a.env.must("", "", regctl, "registry", "set", "--tls", "disabled", "--skip-check", f.g.Addr)
		a.env.must("", a.pass, regctl, "registry", "login", f.g.Addr, "-u", a.user, "--pass-stdin")
		cfg := string(clReadFile(t, filepath.Join(a.env.Dir, "home", ".regctl", "config.json")))
		require.Contains(t, cfg, `"user": "`+a.user+`"`, "the $ survives as a single argument")
	}

	ci.must("", "", regctl, "image", "import", src, im.Tarball)
	pushed := ci.stdout("", "", regctl, "image", "digest", src)
	got, _ := f.manifest(t, f.rwUser, f.rwPass, "team-a/regctl/app", "v1")
	require.Equal(t, got, pushed)

	exported := filepath.Join(ci.Dir, "exported.tar")
	ci.must("", "", regctl, "image", "export", src, exported)
	require.Equal(t, im.Payload, clPayloadOfTarball(t, exported))

	ci.must("", "", regctl, "image", "copy", src, dst)
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/regctl/app", "v1")
	require.Equal(t, pushed, got)

	// regctl starts every push with the upload POST and prints the whole
	// error body; it calls any 401 or 403 "unauthorized".
	out := ro.refused("", "", regctl, "image", "import", f.ref("team-a/regctl/denied:v1"), im.Tarball)
	require.Contains(t, out, `request failed: unauthorized [http 403]: {"errors":[{"code":"DENIED","message":"`+clDenyReadOnly+`"`)
	f.requireDenied(t, "tcr$ro", "team-a/regctl/denied", clDenyReadOnly)

	// (image import, not image copy: copy retries the refused mount and
	// POST with backoff for ~15 s before it gives up with the same text.)
	out = ci.refused("", "", regctl, "image", "import", f.ref("team-c/regctl/app:v1"), im.Tarball)
	require.Contains(t, out, `[http 403]: {"errors":[{"code":"DENIED","message":"`+clDenyNoGrant+`"`)
	f.requireDenied(t, "tcr$ci", "team-c/regctl/app", clDenyNoGrant)
}
