package e2e

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientDocker drives the docker CLI (and so the Docker Engine's
// pusher and puller) through the gateway: login as a tcr$ account, push an
// image made with docker import, pull it back after removing it locally,
// copy it team-a -> team-b, and two refused pushes.
func TestClientDocker(t *testing.T) {
	t.Parallel()
	clTimer(t)
	docker := clTool(t, "docker")
	f := clStart(t)
	ci, ro := newClEnv(t), newClEnv(t)
	im := clMakeImage(t, filepath.Join(ci.Dir, "img"), 256<<10, nil)

	src, dst := f.ref("team-a/docker/app:v1"), f.ref("team-b/docker/app:v1")
	denyRO, denyNS := f.ref("team-a/docker/denied:v1"), f.ref("team-c/docker/app:v1")
	t.Cleanup(func() {
		// The engine is shared by the whole machine: leave no tags behind.
		ci.run("", "", docker, "rmi", "-f", src, dst, denyRO, denyNS)
	})

	// docker login HOST -u 'tcr$ci' --password-stdin; DOCKER_CONFIG is private.
	out := ci.must("", f.rwPass+"\n", docker, "login", f.g.Addr, "-u", f.rwUser, "--password-stdin")
	require.Contains(t, out, "Login Succeeded")
	require.Contains(t, string(clReadFile(t, filepath.Join(ci.Dir, "docker", "config.json"))), f.g.Addr)
	ro.must("", f.roPass+"\n", docker, "login", f.g.Addr, "-u", f.roUser, "--password-stdin")

	// Push: docker import a tarball made in Go, then docker push.
	ci.must("", "", docker, "import", im.LayerTar, src)
	out = ci.must("", "", docker, "push", src)
	pushed := clFirstDigest(t, out, "v1: digest:")
	got, _ := f.manifest(t, f.rwUser, f.rwPass, "team-a/docker/app", "v1")
	require.Equal(t, pushed, got, "digest docker push printed = digest the registry serves")

	// Pull: remove the image from the engine so every byte comes back.
	ci.must("", "", docker, "rmi", "-f", src)
	out = ci.must("", "", docker, "pull", src)
	require.Equal(t, pushed, clFirstDigest(t, out, "Digest:"))
	saved := filepath.Join(ci.Dir, "saved.tar")
	ci.must("", "", docker, "save", "-o", saved, src)
	require.Equal(t, im.Payload, clPayloadOfTarball(t, saved), "payload.bin pulled by docker = payload pushed")

	// Copy team-a -> team-b: tag and push (the engine mounts the layer
	// from team-a, which needs pull there: tcr$ci has it).
	ci.must("", "", docker, "tag", src, dst)
	out = ci.must("", "", docker, "push", dst)
	require.Equal(t, pushed, clFirstDigest(t, out, "v1: digest:"), "same manifest in team-b")
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/docker/app", "v1")
	require.Equal(t, pushed, got)

	// Refused: a read-only account, and a namespace without a grant. The
	// engine shows the gateway's message after "denied: ".
	ro.must("", "", docker, "tag", src, denyRO)
	out = ro.refused("", "", docker, "push", denyRO)
	require.Contains(t, out, "denied: "+clDenyReadOnly)
	f.requireDenied(t, "tcr$ro", "team-a/docker/denied", clDenyReadOnly)

	ci.must("", "", docker, "tag", src, denyNS)
	out = ci.refused("", "", docker, "push", denyNS)
	require.Contains(t, out, "denied: "+clDenyNoGrant)
	f.requireDenied(t, "tcr$ci", "team-c/docker/app", clDenyNoGrant)

	// A wrong password is refused at login already.
	out = ci.refused("", "wrong-password\n", docker, "login", f.g.Addr, "-u", f.rwUser, "--password-stdin")
	require.Contains(t, out, "failed with status: 401 Unauthorized")
}
