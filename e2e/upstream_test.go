package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBearerTokenUpstream(t *testing.T) {
	t.Parallel()
	const gwUser, gwPass = "gateway-robot", "Gw-token-pass-1"
	ts := StartTokenServer(t, map[string]string{gwUser: gwPass})
	reg := StartRegistry(t, RegistryOptions{Token: ts.Auth()})
	resp, _ := sendAs(t, nil, "GET", reg.URL+"/v2/", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer realm="), "the registry really wants tokens")

	t.Run("push, pull, catalog and delete through the gateway", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: reg.URL, UpstreamUser: gwUser, UpstreamPass: gwPass})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rwd")
		spy := newClientSpy(t, g.URL())
		c := newCraneCLI(t, spy.Host, user, pass, "")
		ref := spy.Host + "/team-a/app:v1"
		pushPull(t, c, ref)
		pushPull(t, c, spy.Host+"/team-a/other:v1")
		assert.Contains(t, c.must("catalog", spy.Host), "team-a/app")
		assert.Equal(t, "v1", c.must("ls", spy.Host+"/team-a/app"))
		digest := c.must("digest", ref)
		c.must("delete", spy.Host+"/team-a/app@"+digest)
		_, err := c.run("digest", ref)
		assert.Error(t, err, "deleted")

		answers := spy.answers()
		challenged := 0
		for _, a := range answers {
			assert.NotEqual(t, http.StatusBadGateway, a.Status, "%+v\n%s", a, g.Stderr())
			if a.Status == http.StatusUnauthorized {
				challenged++
				assert.True(t, strings.HasPrefix(a.Challenge, "Basic realm="), "client saw %q on %s %s", a.Challenge, a.Method, a.Path)
			}
			assert.NotContains(t, a.Challenge, "Bearer")
		}
		require.NotZero(t, challenged, "crane started anonymously and was challenged")
		reqs := ts.Requests()
		require.NotEmpty(t, reqs)
		for _, r := range reqs {
			assert.Equal(t, gwUser, r.User, "the token service sees only the gateway's credentials")
			assert.True(t, r.Granted)
		}
		var scopes []string
		for _, r := range reqs {
			scopes = append(scopes, strings.Join(r.Scopes, " "))
		}
		t.Logf("client requests: %d, token requests: %d, scopes: %q", len(answers), len(reqs), scopes)
		// One token per scope (base, 2 repos x pull / pull,push, catalog,
		// delete): far fewer than requests.
		assert.LessOrEqual(t, len(reqs), 8)
		assert.Less(t, len(reqs)*4, len(answers), "tokens are reused")
	})

	t.Run("token service refuses the gateway's password", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: reg.URL, UpstreamUser: gwUser, UpstreamPass: "wrong"})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		resp, body := sendAs(t, nil, "GET", g.URL()+"/v2/team-a/app/manifests/v1", user, pass)
		requireUnavailable(t, resp, body, "gateway's own credentials")
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "no challenge of any kind reaches the client")
		assert.Contains(t, g.Stderr(), "token service "+ts.URL+"/token")
	})
}

func TestHtpasswdUpstream(t *testing.T) {
	t.Parallel()
	const gwUser, gwPass = "gateway", "Gw-basic-pass-1"
	reg := StartRegistry(t, RegistryOptions{Htpasswd: map[string]string{gwUser: gwPass}})

	t.Run("push and pull with the gateway's credentials", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: reg.URL, UpstreamUser: gwUser, UpstreamPass: gwPass})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		spy := newClientSpy(t, g.URL())
		pushPull(t, newCraneCLI(t, spy.Host, user, pass, ""), spy.Host+"/team-a/app:v1")
		for _, a := range spy.answers() {
			if a.Status == http.StatusUnauthorized {
				assert.Equal(t, `Basic realm="robotgate"`, a.Challenge, "the gateway's realm, not the upstream's")
			}
		}
	})
	t.Run("wrong upstream password is the operator's 502", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: reg.URL, UpstreamUser: gwUser, UpstreamPass: "wrong"})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		resp, body := sendAs(t, nil, "GET", g.URL()+"/v2/team-a/app/manifests/v1", user, pass)
		requireUnavailable(t, resp, body, "refused the gateway's own credentials")
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "the upstream's challenge is not passed on")
		assert.Regexp(t, `upstream request failed.*refused the gateway's credentials`, g.Stderr())
	})
	t.Run("ROBOTGATE_UPSTREAM_PASSWORD overrides password_file", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: reg.URL, UpstreamUser: gwUser, UpstreamPass: "wrong",
			Env: []string{"ROBOTGATE_UPSTREAM_PASSWORD=" + gwPass}})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		pushPull(t, newCraneCLI(t, g.Addr, user, pass, ""), g.Addr+"/team-a/env:v1")
	})
}

func TestGatewayServesTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "e2e gateway CA")
	cert, key := ca.Issue("127.0.0.1")
	g := StartGateway(t, GatewayOptions{TLSCert: cert, TLSKey: key})
	require.True(t, strings.HasPrefix(g.URL(), "https://"))
	user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")

	t.Run("a client trusting the CA verifies the gateway", func(t *testing.T) {
		resp, _ := sendAs(t, ca.Client(), "GET", g.URL()+"/v2/", user, pass)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotEmpty(t, resp.TLS.VerifiedChains, "the chain was verified against the CA")
		pushPull(t, newCraneCLI(t, g.Addr, user, pass, ca.File), g.Addr+"/team-a/tls:v1")

		// go-containerregistry with a RootCAs pool of only this CA.
		ref, err := name.ParseReference(g.Addr + "/team-a/lib:v1")
		require.NoError(t, err)
		opts := []remote.Option{remote.WithAuth(&authn.Basic{Username: user, Password: pass}), remote.WithTransport(ca.Client().Transport)}
		img, err := random.Image(4096, 2)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img, opts...))
		got, err := remote.Image(ref, opts...)
		require.NoError(t, err)
		require.NoError(t, validate.Image(got))
	})
	t.Run("a client not trusting the CA refuses it", func(t *testing.T) {
		other := newTestCA(t, "some other CA")
		req, _ := http.NewRequest("GET", g.URL()+"/v2/", nil)
		_, err := other.Client().Do(req)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
		out, err := newCraneCLI(t, g.Addr, user, pass, other.File).run("digest", g.Addr+"/team-a/tls:v1")
		require.Error(t, err, out)
	})
	t.Run("plain HTTP to the TLS port gets no registry answer", func(t *testing.T) {
		resp, body := sendAs(t, nil, "GET", "http://"+g.Addr+"/v2/", user, pass)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Docker-Distribution-API-Version"))
		assert.Contains(t, body, "HTTPS")
	})
}

func TestHTTPSUpstream(t *testing.T) {
	t.Parallel()
	up := newTLSRegistry(t)

	t.Run("ca_file", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: up.URL, CAFile: up.CAFile})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		pushPull(t, newCraneCLI(t, g.Addr, user, pass, ""), g.Addr+"/team-a/app:v1")
		up.mu.Lock()
		defer up.mu.Unlock()
		assert.Equal(t, []string{"HTTP/1.1"}, protoNames(up.protos), "HTTP/1.1 to the upstream even when it offers h2")
	})
	t.Run("without ca_file the certificate is refused", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: up.URL})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		resp, body := sendAs(t, nil, "GET", g.URL()+"/v2/team-a/app/manifests/v1", user, pass)
		requireUnavailable(t, resp, body, "unavailable")
		assert.NotContains(t, body, "x509", "no internals for the client")
		assert.Regexp(t, `upstream request failed.*certificate`, g.Stderr())
	})
	t.Run("insecure_skip_verify", func(t *testing.T) {
		g := StartGateway(t, GatewayOptions{Upstream: up.URL, ExtraUpstream: "insecure_skip_verify = true"})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		pushPull(t, newCraneCLI(t, g.Addr, user, pass, ""), g.Addr+"/team-a/skip:v1")
		assert.Contains(t, g.Stderr(), "not verified")
	})
	t.Run("registry process with TLS and htpasswd", func(t *testing.T) {
		ca := newTestCA(t, "e2e upstream CA")
		cert, key := ca.Issue("127.0.0.1")
		reg := StartRegistry(t, RegistryOptions{TLS: &RegistryTLS{CertFile: cert, KeyFile: key}, Htpasswd: map[string]string{"gw": "Gw-pass-123"}})
		require.True(t, strings.HasPrefix(reg.URL, "https://"))
		g := StartGateway(t, GatewayOptions{Upstream: reg.URL, CAFile: ca.File, UpstreamUser: "gw", UpstreamPass: "Gw-pass-123"})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		pushPull(t, newCraneCLI(t, g.Addr, user, pass, ""), g.Addr+"/team-a/app:v1")
	})
}

func TestStorageRedirects(t *testing.T) {
	t.Parallel()
	t.Run("passed through untouched", func(t *testing.T) {
		up := newRedirectingUpstream(t)
		g := StartGateway(t, GatewayOptions{Upstream: up.URL, UpstreamUser: "gw", UpstreamPass: "pw"})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		c := newCraneCLI(t, g.Addr, user, pass, "")
		pushPull(t, c, g.Addr+"/team-a/far/app:v1")
		require.NotEmpty(t, up.storageAuths(), "crane followed the redirect to the storage")
		for _, a := range up.storageAuths() {
			assert.Empty(t, a, "no credential reached the storage")
		}
		layer := firstLayer(t, c, g.Addr+"/team-a/far/app:v1")
		resp, _ := sendAs(t, nil, "GET", g.URL()+"/v2/team-a/far/app/blobs/"+layer, user, pass)
		require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
		loc := resp.Header.Get("Location")
		assert.True(t, strings.HasPrefix(loc, up.storage.URL+"/bucket?"), "Location to another host untouched: %s", loc)
		assert.Contains(t, loc, "sig=s3cr3t")
	})
	t.Run("followed by the gateway", func(t *testing.T) {
		up := newRedirectingUpstream(t)
		g := StartGateway(t, GatewayOptions{Upstream: up.URL, UpstreamUser: "gw", UpstreamPass: "pw", ExtraUpstream: "follow_redirects = true"})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		c := newCraneCLI(t, g.Addr, user, pass, "")
		for _, repo := range []string{"team-a/far/app", "team-a/near/app"} {
			pushPull(t, c, g.Addr+"/"+repo+":v1")
			layer := firstLayer(t, c, g.Addr+"/"+repo+":v1")
			resp, body := sendAs(t, nil, "GET", g.URL()+"/v2/"+repo+"/blobs/"+layer, user, pass)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", repo, body)
			assert.Equal(t, layer, digestOf(body), "%s: the blob's bytes", repo)
			resp, body = sendAs(t, nil, "HEAD", g.URL()+"/v2/"+repo+"/blobs/"+layer, user, pass)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Empty(t, body)
		}
		auths := up.storageAuths()
		require.NotEmpty(t, auths)
		for _, a := range auths {
			assert.Empty(t, a, "the gateway sent no credential to the redirect target, same host or not")
		}
	})
}

func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	t.Run("unreachable upstream", func(t *testing.T) {
		dead := freeAddr(t) // nothing listens there
		g := StartGateway(t, GatewayOptions{Upstream: "http://" + dead})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		resp, body := sendAs(t, nil, "GET", g.URL()+"/v2/team-a/app/manifests/v1", user, pass)
		requireUnavailable(t, resp, body, "operator can find the cause in its log")
		assert.NotContains(t, body, "refused", "no internals for the client")
		assert.Regexp(t, `upstream request failed.*"ping http://`+dead+`/v2/: dial tcp `+dead+`: connect: connection refused"`, g.Stderr())
	})
	t.Run("connection reset mid-blob fails the pull", func(t *testing.T) {
		up := newFlakyUpstream(t)
		g := StartGateway(t, GatewayOptions{Upstream: up.URL()})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		c := newCraneCLI(t, g.Addr, user, pass, "")
		tar, _ := imageTarball(t, 256<<10, 1)
		ref := g.Addr + "/team-a/app:v1"
		c.must("push", tar, ref)
		up.cut(64 << 10)
		out := filepath.Join(t.TempDir(), "pulled.tar")
		msg, err := c.run("pull", ref, out)
		require.Error(t, err, "a truncated blob is never accepted:\n%s", msg)
		t.Logf("crane: %s", strings.TrimSpace(msg))
		eventually(t, 5*time.Second, func() bool { return strings.Contains(g.Stderr(), "read error during body copy") },
			"the gateway logs the cut:\n%s", g.Stderr())
		up.cut(0)
		c.must("pull", ref, out)
	})
	t.Run("recovers when the upstream comes back", func(t *testing.T) {
		up := newFlakyUpstream(t)
		g := StartGateway(t, GatewayOptions{Upstream: up.URL()})
		user, pass := g.CreateAccount("ci", "--grant", "team-a=rw")
		c := newCraneCLI(t, g.Addr, user, pass, "")
		tar, _ := imageTarball(t, 1024, 1)
		c.must("push", tar, g.Addr+"/team-a/app:v1")
		target := g.URL() + "/v2/team-a/app/manifests/v1"
		resp, _ := sendAs(t, nil, "GET", target, user, pass)
		require.Equal(t, http.StatusOK, resp.StatusCode)

		up.Stop()
		resp, body := sendAs(t, nil, "GET", target, user, pass)
		requireUnavailable(t, resp, body, "unavailable")

		up.Start()
		resp, body = sendAs(t, nil, "GET", target, user, pass)
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	})
}
