package e2e

import (
	"net/http"
	"os/exec"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDebianRegistryUpstream fronts Debian's docker-registry (CNCF
// distribution 2.8, another real registry generation) with htpasswd auth:
// push and pull of an image and an index, read-only refusal, and catalog
// filtering all behave as in front of v3.
func TestDebianRegistryUpstream(t *testing.T) {
	bin, err := exec.LookPath("docker-registry")
	require.NoError(t, err, "Debian's docker-registry is not installed: run .ci/install-tools")
	up := StartRegistry(t, RegistryOptions{Binary: bin, Htpasswd: map[string]string{"gw": "Gw-pass-28"}})
	g := StartGateway(t, GatewayOptions{Upstream: up.URL, UpstreamUser: "gw", UpstreamPass: "Gw-pass-28"})
	rwUser, rwPass := g.CreateAccount("writer", "--grant", "team-a=rw")
	roUser, roPass := g.CreateAccount("reader", "--grant", "team-a=ro")

	img, err := random.Image(2048, 2)
	require.NoError(t, err)
	require.NoError(t, crane.Push(img, g.Addr+"/team-a/app:v1", as(rwUser, rwPass)...))
	got, err := crane.Pull(g.Addr+"/team-a/app:v1", as(roUser, roPass)...)
	require.NoError(t, err)
	require.NoError(t, validate.Image(got))
	want, _ := img.Digest()
	have, _ := got.Digest()
	assert.Equal(t, want, have)

	idx, err := random.Index(512, 1, 2)
	require.NoError(t, err)
	ref, err := name.ParseReference(g.Addr+"/team-a/multi:v1", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx, remote.WithAuth(basic(rwUser, rwPass))))
	gotIdx, err := remote.Index(ref, remote.WithAuth(basic(roUser, roPass)))
	require.NoError(t, err)
	require.NoError(t, validate.Index(gotIdx))

	err = crane.Push(img, g.Addr+"/team-a/app:v2", as(roUser, roPass)...)
	requireStatus(t, err, http.StatusForbidden, "DENIED", "may not push to namespace team-a")

	require.NoError(t, crane.Push(img, g.Addr+"/team-b/hidden:v1", as("tcr$admin", g.AdminPassword)...))
	repos, err := crane.Catalog(g.Addr, as(roUser, roPass)...)
	require.NoError(t, err)
	assert.Equal(t, []string{"team-a/app", "team-a/multi"}, repos)
}
