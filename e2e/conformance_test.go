package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OCI distribution-spec conformance suite, run directly against CNCF
// distribution v3.1.2 and through the gateway in front of the same kind of
// registry. A correct gateway neither adds nor hides failures, so the two
// runs must pass the same tests, compared by distinct junit leaf name (the
// names carry no repository or address). Each run gets a registry with
// fresh storage, so no run sees what another left behind. The suite's exit
// status says only "something failed" (the registry itself fails 90 leaves:
// sha512, referrers, non-distributable layers), so the results are parsed.
//
// Every run's counts are reported as "conformance LABEL: pass N, fail N,
// skip N"; see reportConformance for how CI shows them.

// TestConformanceExternal: an external registry with htpasswd auth, the
// gateway logging in with [upstream] username/password and the suite with
// a read-write-delete account.
func TestConformanceExternal(t *testing.T) {
	up := confUpstream(t, true)
	direct := runConformance(t, "external direct", confRun{Registry: up.Addr, User: up.User, Pass: up.Pass})
	reportRun(t, direct)

	gup := confUpstream(t, true)
	g := StartGateway(t, GatewayOptions{Upstream: "http://" + gup.Addr, UpstreamUser: gup.User, UpstreamPass: gup.Pass})
	requireSameThroughGateway(t, "external gateway", direct, g)
}

// requireSameThroughGateway runs the suite through g with a
// read-write-delete account and requires the pass set of the direct run,
// with nothing the account sent denied.
func requireSameThroughGateway(t *testing.T, label string, direct *confResult, g *Gateway) {
	t.Helper()
	user, pass := g.CreateAccount("conformance", "--grant", confNamespace+"=rwd", "--permanent")
	before := len(confAuditLines(g))
	gw := runConformance(t, label, confRun{Registry: g.Addr, User: user, Pass: pass})
	reportRun(t, gw)

	requireJunit(t, direct, gw)
	requireSaneDirect(t, direct, 500)
	requireSamePassing(t, direct, gw, false)
	requireAllowedThroughout(t, confAuditLines(g)[before:], user)
}

// TestConformanceEmbedded: the gateway with url = "embedded" against a
// standalone registry of the same version (no auth), both distribution
// v3.1.2. The embedded registry runs with relativeurls = true and the
// standalone one with its default; the suite must not see a difference.
func TestConformanceEmbedded(t *testing.T) {
	requireSameDistribution(t)
	up := confUpstream(t, false)
	direct := runConformance(t, "embedded direct", confRun{Registry: up.Addr})
	reportRun(t, direct)

	requireSameThroughGateway(t, "embedded gateway", direct, StartGateway(t, GatewayOptions{}))
}

// TestConformanceReadOnly: the suite in read-only mode with a read-only
// account reads content another (read-write) account pushed through the
// gateway. Every test that passes directly (upstream credentials, same
// content, same mode) passes through the gateway: the full read-only run
// (which panics writing results.yaml, so its printed report is read) and
// the read-only branch alone (which writes junit.xml).
func TestConformanceReadOnly(t *testing.T) {
	up := confUpstream(t, true)
	g := StartGateway(t, GatewayOptions{Upstream: "http://" + up.Addr, UpstreamUser: up.User, UpstreamPass: up.Pass})
	wuser, wpass := g.CreateAccount("conformance-writer", "--grant", confNamespace+"=rw", "--permanent")
	ruser, rpass := g.CreateAccount("conformance-reader", "--grant", confNamespace+"=ro", "--permanent")
	content := pushReadOnlyContent(t, g.Addr, confRepo1, wuser, wpass)
	env := confReadOnlyEnv(content)

	for _, mode := range []struct {
		name  string
		env   []string
		junit bool
	}{
		{"read-only", env, false},
		{"read-only-branch", append(append([]string{}, env...), confReadOnlyFilter), true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			direct := runConformance(t, mode.name+" direct", confRun{Registry: up.Addr, User: up.User, Pass: up.Pass, Env: mode.env})
			reportRun(t, direct)
			before := len(confAuditLines(g))
			gw := runConformance(t, mode.name+" gateway", confRun{Registry: g.Addr, User: ruser, Pass: rpass, Env: mode.env})
			reportRun(t, gw)
			if mode.junit {
				requireJunit(t, direct, gw)
			}

			requireSaneDirect(t, direct, 10)
			requireSamePassing(t, direct, gw, true)
			lines := confAuditLines(g)[before:]
			requireAllowedThroughout(t, lines, ruser)
			for _, a := range lines {
				assert.NotContains(t, []string{"push", "delete"}, a.Action, "a read-only run asked for more than pull: %s", a)
			}
		})
	}
}

// TestConformancePushRefused: the whole suite, pushes and deletes included,
// with a read-only account. Every push and delete the account sends is
// refused with 403 DENIED, never 401 or 5xx, nothing reaches the upstream,
// and no push test passes.
func TestConformancePushRefused(t *testing.T) {
	up := confUpstream(t, true)
	g := StartGateway(t, GatewayOptions{Upstream: "http://" + up.Addr, UpstreamUser: up.User, UpstreamPass: up.Pass})
	ruser, rpass := g.CreateAccount("conformance-reader", "--grant", confNamespace+"=ro", "--permanent")
	before := len(confAuditLines(g))
	res := runConformance(t, "push-refused gateway", confRun{Registry: g.Addr, User: ruser, Pass: rpass})
	reportRun(t, res)
	requireJunit(t, res)
	lines := confAuditLines(g)[before:]

	counts := map[string]int{} // "push", "delete": sent with the account; "... 403": refused so
	for _, a := range lines {
		authed := a.Account == ruser
		switch {
		case a.Status >= 500:
			t.Errorf("5xx: %s", a)
		case a.Status == http.StatusUnauthorized && (a.Account != "anonymous" || a.Reason != "anonymous"):
			// The suite sends each new kind of request once without
			// credentials and retries with them on the 401 challenge;
			// a 401 to a request that carried credentials is a fault.
			t.Errorf("401 to a request with credentials: %s", a)
		}
		if !authed {
			counts["anonymous "+a.Action]++
			continue
		}
		if a.Action == "push" || a.Action == "delete" {
			counts[a.Action]++
			if a.Status == http.StatusForbidden && a.Decision == "deny" {
				counts[a.Action+" 403"]++
			} else {
				t.Errorf("%s not refused with 403: %s", a.Action, a)
			}
		}
	}
	t.Logf("%d audit lines during the run: %v", len(lines), counts)
	reportConformance(t, "push-refused audit: %d of %d pushes and %d of %d deletes refused with 403",
		counts["push 403"], counts["push"], counts["delete 403"], counts["delete"])
	assert.GreaterOrEqual(t, counts["push"], confMinRefusedPushes, "pushes attempted with the read-only account")
	assert.Positive(t, counts["delete"], "deletes attempted with the read-only account")

	// What the client saw: every 403 the suite recorded carries DENIED.
	denied, other := 0, 0
	for _, c := range res.Cases {
		for _, resp := range strings.Split(c.Trace, "~~~ RESPONSE ~~~")[1:] {
			if !strings.HasPrefix(strings.TrimLeft(resp, "\n"), "Status: 403\n") {
				continue
			}
			if strings.Contains(resp, `"DENIED"`) {
				denied++
			} else {
				other++
				t.Errorf("%s: 403 without DENIED:\n%s", c.Name, confTail(resp, 20))
			}
		}
	}
	t.Logf("403 responses in the suite's traces: %d with DENIED, %d without", denied, other)
	assert.Positive(t, denied, "no 403 DENIED in the suite's request traces")

	for _, c := range res.Cases {
		if strings.Contains(c.Name, "/push/") {
			assert.NotEqual(t, "passed", c.Status, "a push test passed with a read-only account: %s", c.Name)
		}
	}
	code, _, body := rawDo(t, http.MethodGet, "http://"+up.Addr+"/v2/_catalog", up.User, up.Pass, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"repositories":[]}`, body, "the upstream got content from a read-only account")
	// Even an upload the registry started would have made a repository
	// directory (repositories/NAME/_uploads/ID).
	_, err := os.Stat(filepath.Join(up.Dir, "data", "docker", "registry", "v2", "repositories"))
	assert.True(t, os.IsNotExist(err), "the upstream's storage has repositories after a read-only run (stat: %v)", err)
}

// confMinRefusedPushes is well below the pushes one suite run attempts.
const confMinRefusedPushes = 100

// requireAllowedThroughout checks the audit lines of one run of the suite
// by an account with enough rights for everything it tried: nothing the
// account sent was refused, challenged again or failed in the gateway.
// Only refusals made before any credential is looked at (the suite's first
// try without credentials, malformed digests it sends on purpose) remain.
func requireAllowedThroughout(t testing.TB, lines []confAudit, user string) {
	t.Helper()
	require.NotEmpty(t, lines, "no audit lines: the suite never reached the gateway")
	for _, a := range lines {
		if a.Account == user && a.Decision != "allow" {
			t.Errorf("refused %s: %s", user, a)
		}
		if a.Status == http.StatusBadGateway || a.Status == http.StatusGatewayTimeout {
			t.Errorf("gateway could not reach the upstream: %s", a)
		}
	}
}

// requireSameDistribution checks that the standalone registry is the
// distribution release the gateway embeds, so an embedded-vs-direct
// difference is the gateway's and not a version's.
func requireSameDistribution(t testing.TB) {
	t.Helper()
	const mod = "github.com/distribution/distribution/v3"
	version := func(bin string) string {
		out, err := exec.Command("go", "version", "-m", bin).Output()
		require.NoError(t, err, "go version -m %s", bin)
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && (f[0] == "mod" || f[0] == "dep") && f[1] == mod {
				return f[2]
			}
		}
		t.Fatalf("%s: no %s in its build info", bin, mod)
		return ""
	}
	emb, ext := version(robotgateBin), version(confRegistryBin(t))
	require.Equal(t, emb, ext, "embedded distribution %s, standalone registry %s", emb, ext)
	t.Logf("distribution %s in both", emb)
}
