package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// TestClientMultiArchIndex pushes a linux/amd64 and a linux/arm64 image
// with crane, joins them into an index with crane index append, and pulls
// by platform with crane and regctl: each platform gets its own bytes.
// crane copy then copies the whole index team-a -> team-b.
func TestClientMultiArchIndex(t *testing.T) {
	t.Parallel()
	clTimer(t)
	crane, regctl := clTool(t, "crane"), clTool(t, "regctl")
	f := clStart(t)
	ci := newClEnv(t)
	ci.must("", f.rwPass, crane, "auth", "login", f.g.Addr, "-u", f.rwUser, "--password-stdin")
	ci.must("", "", regctl, "registry", "set", "--tls", "disabled", "--skip-check", f.g.Addr)
	ci.must("", f.rwPass, regctl, "registry", "login", f.g.Addr, "-u", f.rwUser, "--pass-stdin")

	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	images := map[string]clImage{}
	digests := map[string]string{}
	var members []string
	for _, p := range platforms {
		arch := p.Architecture
		im := clMakeImage(t, filepath.Join(ci.Dir, arch), 64<<10, &p)
		out := ci.must("", "", crane, "push", im.Tarball, f.ref("team-a/multi/app:"+arch))
		d, err := im.Image.Digest()
		require.NoError(t, err)
		require.Contains(t, out, d.String())
		images[p.String()], digests[p.String()] = im, d.String()
		members = append(members, "-m", f.ref("team-a/multi/app@"+d.String()))
	}
	idxRef := f.ref("team-a/multi/app:latest")
	// It logs the members it reads to stderr and prints REPO@DIGEST of the
	// index on stdout; read stdout alone (the two streams interleave).
	out := ci.stdout("", "", crane, append([]string{"index", "append", "-t", idxRef}, members...)...)
	all := clDigestRe.FindAllString(out, -1)
	require.Len(t, all, 1, out)
	idxDigest := all[0]
	require.Contains(t, out, "team-a/multi/app@"+idxDigest)

	got, body := f.manifest(t, f.rwUser, f.rwPass, "team-a/multi/app", "latest")
	require.Equal(t, idxDigest, got)
	var idx v1.IndexManifest
	require.NoError(t, json.Unmarshal(body, &idx))
	require.Equal(t, "application/vnd.oci.image.index.v1+json", string(idx.MediaType))
	require.Len(t, idx.Manifests, 2)
	for _, m := range idx.Manifests {
		require.NotNil(t, m.Platform, "crane index append reads the platform from each config")
		require.Equal(t, digests[m.Platform.String()], m.Digest.String(), m.Platform.String())
	}

	for _, p := range platforms {
		ps := p.String()
		require.Equal(t, digests[ps], ci.stdout("", "", crane, "digest", "--platform", ps, idxRef), ps)
		pulled := filepath.Join(ci.Dir, "pulled-"+p.Architecture+".tar")
		ci.must("", "", crane, "pull", "--platform", ps, idxRef, pulled)
		require.Equal(t, images[ps].Payload, clPayloadOfTarball(t, pulled), "crane pulled the %s bytes", ps)

		exported := filepath.Join(ci.Dir, "regctl-"+p.Architecture+".tar")
		ci.must("", "", regctl, "image", "export", "--platform", ps, idxRef, exported)
		require.Equal(t, images[ps].Payload, clPayloadOfTarball(t, exported), "regctl pulled the %s bytes", ps)
		require.Equal(t, digests[ps], ci.stdout("", "", regctl, "image", "digest", "--platform", ps, idxRef))
	}

	ci.must("", "", crane, "copy", idxRef, f.ref("team-b/multi/app:latest"))
	got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/multi/app", "latest")
	require.Equal(t, idxDigest, got, "the index copied as it is")
	for _, d := range digests {
		got, _ = f.manifest(t, f.rwUser, f.rwPass, "team-b/multi/app", d)
		require.Equal(t, d, got, "each platform image copied with it")
	}
}
