package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstreams runs a test against both kinds of upstream the issue names:
// the embedded distribution registry and go-containerregistry's registry
// reached over HTTP.
func upstreams(t *testing.T, fn func(t *testing.T, g *Gateway)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		fn(t, StartGateway(t, GatewayOptions{Public: []string{"public"}}))
	})
	t.Run("http", func(t *testing.T) {
		t.Parallel()
		up := newCountingRegistry(t)
		fn(t, StartGateway(t, GatewayOptions{Upstream: up.URL, Public: []string{"public"}}))
	})
}

func TestPushPullImageAndIndex(t *testing.T) {
	upstreams(t, func(t *testing.T, g *Gateway) {
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		img, err := random.Image(1024, 3)
		require.NoError(t, err)
		ref := g.Addr + "/team-a/app/api:v1"
		require.NoError(t, crane.Push(img, ref, as(user, pass)...))

		got, err := crane.Pull(ref, as(user, pass)...)
		require.NoError(t, err)
		require.NoError(t, validate.Image(got), "every byte pulled matches its digest")
		wantDigest, _ := img.Digest()
		gotDigest, _ := got.Digest()
		assert.Equal(t, wantDigest, gotDigest)
		wantLayers, _ := img.Layers()
		gotLayers, _ := got.Layers()
		require.Len(t, gotLayers, 3)
		for i := range wantLayers {
			w, _ := wantLayers[i].Digest()
			d, _ := gotLayers[i].Digest()
			assert.Equal(t, w, d)
		}

		idx, err := random.Index(512, 2, 3)
		require.NoError(t, err)
		iref, err := name.ParseReference(g.Addr+"/team-a/multi:latest", name.Insecure)
		require.NoError(t, err)
		auth := remote.WithAuth(basic(user, pass))
		require.NoError(t, remote.WriteIndex(iref, idx, auth))
		gotIdx, err := remote.Index(iref, auth)
		require.NoError(t, err)
		require.NoError(t, validate.Index(gotIdx))
		wd, _ := idx.Digest()
		gd, _ := gotIdx.Digest()
		assert.Equal(t, wd, gd)
	})
}

func TestReadOnlyAccount(t *testing.T) {
	upstreams(t, func(t *testing.T, g *Gateway) {
		rwUser, rwPass := g.CreateAccount("writer", "--grant", "team-a=rw")
		roUser, roPass := g.CreateAccount("reader", "--grant", "team-a=ro")
		img, _ := random.Image(512, 1)
		require.NoError(t, crane.Push(img, g.Addr+"/team-a/app:v1", as(rwUser, rwPass)...))

		_, err := crane.Pull(g.Addr+"/team-a/app:v1", as(roUser, roPass)...)
		require.NoError(t, err, "read-only pulls")

		other, _ := random.Image(512, 1)
		err = crane.Push(other, g.Addr+"/team-a/app:v2", as(roUser, roPass)...)
		requireStatus(t, err, http.StatusForbidden, "DENIED", "account tcr$reader may not push to namespace team-a")

		_, err = crane.Head(g.Addr+"/team-a/app:v2", as(rwUser, rwPass)...)
		requireStatus(t, err, http.StatusNotFound, "", "")
		tags, err := crane.ListTags(g.Addr+"/team-a/app", as(rwUser, rwPass)...)
		require.NoError(t, err)
		assert.Equal(t, []string{"v1"}, tags, "nothing was written upstream")
	})
}

func TestNamespaceAndPublic(t *testing.T) {
	upstreams(t, func(t *testing.T, g *Gateway) {
		admin := as("tcr$admin", g.AdminPassword)
		user, pass := g.CreateAccount("teama", "--grant", "team-a=rw")
		img, _ := random.Image(512, 1)
		require.NoError(t, crane.Push(img, g.Addr+"/team-b/secret:v1", admin...))
		require.NoError(t, crane.Push(img, g.Addr+"/public/lib:v1", admin...))

		_, err := crane.Pull(g.Addr+"/team-b/secret:v1", as(user, pass)...)
		requireStatus(t, err, http.StatusForbidden, "DENIED", "may not pull from namespace team-b")
		err = crane.Push(img, g.Addr+"/team-b/secret:v2", as(user, pass)...)
		// crane checks blob existence first; that HEAD is refused (403, no body).
		requireStatus(t, err, http.StatusForbidden, "", "")

		got, err := crane.Pull(g.Addr+"/public/lib:v1", as("", "")...)
		require.NoError(t, err, "anonymous pull of a public namespace")
		require.NoError(t, validate.Image(got))
		err = crane.Push(img, g.Addr+"/public/lib:v2", as("", "")...)
		requireStatus(t, err, http.StatusUnauthorized, "UNAUTHORIZED", "")
		_, err = crane.Pull(g.Addr+"/team-b/secret:v1", as("", "")...)
		requireStatus(t, err, http.StatusUnauthorized, "UNAUTHORIZED", "")
		_, err = crane.Pull(g.Addr+"/public/lib:v1", as(user, "wrong-password")...)
		requireStatus(t, err, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or password")
	})
}

// TestRefusedLogins: every kind of bad login gets 401 with the Basic
// challenge, and only the holder of the right password learns why.
func TestRefusedLogins(t *testing.T) {
	g := StartGateway(t, GatewayOptions{})
	offUser, offPass := g.CreateAccount("off", "--grant", "team-a=rw", "--disabled")
	soon := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	oldUser, oldPass := g.CreateAccount("old", "--grant", "team-a=rw", "--expires", soon)
	goneUser, gonePass := g.CreateAccount("gone", "--grant", "team-a=rw")
	g.MustCLI("account", "delete", "gone")
	okUser, okPass := g.CreateAccount("ok", "--grant", "team-a=rw")
	time.Sleep(time.Until(time.Now().Add(2500 * time.Millisecond)))

	tests := []struct {
		name, user, pass, message string
	}{
		{"disabled", offUser, offPass, "account tcr$off is disabled"},
		{"disabled, wrong password", offUser, "Wrong-pass1", "invalid username or password"},
		{"expired", oldUser, oldPass, "account tcr$old expired on"},
		{"expired, wrong password", oldUser, "Wrong-pass1", "invalid username or password"},
		{"deleted", goneUser, gonePass, "invalid username or password"},
		{"wrong password", okUser, "Wrong-pass1", "invalid username or password"},
		{"unknown user", "tcr$nobody", okPass, "invalid username or password"},
		{"no credentials", "", "", "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/v2/", "/v2/team-a/app/manifests/v1", "/v2/team-a/app/blobs/uploads/", "/v2/_catalog"} {
				method := map[bool]string{true: "POST", false: "GET"}[strings.HasSuffix(path, "/uploads/")]
				status, hdr, body := rawDo(t, method, "http://"+g.Addr+path, tt.user, tt.pass, nil)
				assert.Equal(t, http.StatusUnauthorized, status, path)
				assert.Equal(t, `Basic realm="robotgate"`, hdr.Get("WWW-Authenticate"), path)
				assert.Contains(t, body, `"code":"UNAUTHORIZED"`, path)
				assert.Contains(t, body, tt.message, path)
				if tt.pass != "" {
					assert.NotContains(t, body, tt.pass, "no password echoed")
				}
			}
		})
	}
	status, _, _ := rawDo(t, "GET", "http://"+g.Addr+"/v2/", okUser, okPass, nil)
	assert.Equal(t, http.StatusOK, status)

	// The log names the user a failed login tried (an operator spots a
	// shell-mangled "tcr"), and never a password, hash or Authorization.
	logs := g.Stderr()
	assert.Contains(t, logs, `"attempted_user":"tcr$nobody"`)
	for _, secret := range []string{offPass, oldPass, gonePass, okPass, "Wrong-pass1", g.AdminPassword, "$2a$", "Basic "} {
		assert.NotContains(t, logs[strings.Index(logs, "robotgate listening"):], secret, "secret in the log")
	}
}

// TestDisableByHandEditTakesEffect: writing disabled = true into the file
// refuses the account's next request within 2 s, with no restart.
func TestDisableByHandEditTakesEffect(t *testing.T) {
	g := StartGateway(t, GatewayOptions{})
	user, pass := g.CreateAccount("pipeline", "--grant", "team-a=rw")
	url := "http://" + g.Addr + "/v2/"
	status, _, _ := rawDo(t, "GET", url, user, pass, nil)
	require.Equal(t, http.StatusOK, status)

	setAccountField(t, g.AccountsFile(), user, "disabled", "true")
	took := eventually(t, 2*time.Second, func() bool {
		s, _, _ := rawDo(t, "GET", url, user, pass, nil)
		return s == http.StatusUnauthorized
	}, "disabled account still accepted")
	t.Logf("hand edit took effect after %s", took)
	_, _, body := rawDo(t, "GET", url, user, pass, nil)
	assert.Contains(t, body, "account tcr$pipeline is disabled")
}

// TestMountFromUnreadableNamespace: a cross-repository mount from a
// namespace the account cannot read starts a plain upload; the blob is not
// linked into the target. Needs the embedded distribution registry, which
// keeps blobs per repository.
func TestMountFromUnreadableNamespace(t *testing.T) {
	g := StartGateway(t, GatewayOptions{})
	admin := as("tcr$admin", g.AdminPassword)
	img, _ := random.Image(2048, 1)
	require.NoError(t, crane.Push(img, g.Addr+"/team-b/secret:v1", admin...))
	layers, _ := img.Layers()
	digest, _ := layers[0].Digest()

	user, pass := g.CreateAccount("pusher", "--grant", "team-a=rw")
	base := "http://" + g.Addr
	status, hdr, _ := rawDo(t, "POST", base+"/v2/team-a/app/blobs/uploads/?mount="+digest.String()+"&from=team-b/secret", user, pass, nil)
	assert.Equal(t, http.StatusAccepted, status, "a plain upload started instead of a mount")
	assert.NotEmpty(t, hdr.Get("Location"))
	assert.Empty(t, hdr.Get("Docker-Content-Digest"))

	status, _, _ = rawDo(t, "HEAD", base+"/v2/team-a/app/blobs/"+digest.String(), "tcr$admin", g.AdminPassword, nil)
	assert.Equal(t, http.StatusNotFound, status, "the blob must not be in the target repository")

	// The same mount by an account that may read team-b does mount.
	reader, rpass := g.CreateAccount("mounter", "--grant", "team-a=rw", "--grant", "team-b=ro")
	status, _, _ = rawDo(t, "POST", base+"/v2/team-a/app/blobs/uploads/?mount="+digest.String()+"&from=team-b/secret", reader, rpass, nil)
	assert.Equal(t, http.StatusCreated, status)
	status, _, _ = rawDo(t, "HEAD", base+"/v2/team-a/app/blobs/"+digest.String(), "tcr$admin", g.AdminPassword, nil)
	assert.Equal(t, http.StatusOK, status)
}

func TestCatalogListsOnlyPullable(t *testing.T) {
	upstreams(t, func(t *testing.T, g *Gateway) {
		admin := as("tcr$admin", g.AdminPassword)
		img, _ := random.Image(256, 1)
		for _, repo := range []string{"team-a/app", "team-a/web", "team-b/secret", "team-c/x", "public/lib", "other"} {
			require.NoError(t, crane.Push(img, g.Addr+"/"+repo+":v1", admin...))
		}
		user, pass := g.CreateAccount("cat", "--grant", "team-a=ro", "--grant", "team-c=rw")
		repos, err := crane.Catalog(g.Addr, as(user, pass)...)
		require.NoError(t, err)
		assert.Equal(t, []string{"public/lib", "team-a/app", "team-a/web", "team-c/x"}, repos)

		all, err := crane.Catalog(g.Addr, admin...)
		require.NoError(t, err)
		assert.Len(t, all, 6)

		status, _, _ := rawDo(t, "GET", "http://"+g.Addr+"/v2/_catalog", "", "", nil)
		assert.Equal(t, http.StatusUnauthorized, status)
	})
}

// TestPathTricksNeverReachUpstream: refused paths are refused before
// forwarding; the upstream sees none of them.
func TestPathTricksNeverReachUpstream(t *testing.T) {
	up := newCountingRegistry(t)
	g := StartGateway(t, GatewayOptions{Upstream: up.URL})
	user, pass := g.CreateAccount("tricks", "--grant", "team-a=rw")
	up.reset()
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/v2/team-a/../team-b/manifests/v1", 400},
		{"GET", "/v2/team-a/%2E%2E/team-b/manifests/v1", 400},
		{"GET", "/v2/team-a%2F..%2Fteam-b/manifests/v1", 400},
		{"GET", "/v2/team-a%2fapp/manifests/v1", 400},
		{"GET", "/v2/team-a//app/manifests/v1", 400},
		{"GET", "/v2/Team-A/app/manifests/v1", 400},
		{"GET", "/v2/team-a/app/manifests/v1/", 404},
		{"GET", "/v2/team-a/app/nope", 404},
		{"GET", "/debug/vars", 404},
		{"GET", "/", 404},
		{"PROPFIND", "/v2/team-a/app/manifests/v1", 405},
		{"POST", "/v2/team-a/app/manifests/v1", 405},
		{"PATCH", "/v2/", 405},
		{"GET", "/v2/team-a/app/blobs/sha256:abc", 400},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status := rawPath(t, tt.method, g.Addr, tt.path, user, pass)
			assert.Equal(t, tt.status, status)
		})
	}
	assert.Empty(t, up.seen(), "no refused request may reach the upstream")
	// A good request does reach it, once.
	assert.Equal(t, 404, rawPath(t, "GET", g.Addr, "/v2/team-a/app/manifests/v1", user, pass))
	assert.Equal(t, []string{"GET /v2/team-a/app/manifests/v1"}, up.seen())
}

// rawPath sends a request line with the path exactly as given (no client
// cleaning or re-escaping).
func rawPath(t *testing.T, method, addr, path, user, pass string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/", nil)
	require.NoError(t, err)
	req.URL.Opaque = "//" + addr + path
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// requireStatus asserts a go-containerregistry error carries the status,
// OCI code and message the gateway sent.
func requireStatus(t *testing.T, err error, status int, code, message string) {
	t.Helper()
	require.Error(t, err)
	var terr *transport.Error
	require.ErrorAs(t, err, &terr, "error %v", err)
	assert.Equal(t, status, terr.StatusCode, "%v", err)
	if code != "" {
		require.NotEmpty(t, terr.Errors, "%v", err)
		assert.Equal(t, code, string(terr.Errors[0].Code))
	}
	if message != "" {
		assert.Contains(t, err.Error(), message)
	}
}

func basic(user, pass string) authn.Authenticator {
	return &authn.Basic{Username: user, Password: pass}
}
