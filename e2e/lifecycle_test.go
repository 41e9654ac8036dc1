package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// latencies collects how long each change took to show on the gateway.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) summary() (p50, max time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := append([]time.Duration(nil), l.d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0, 0
	}
	return s[len(s)/2], s[len(s)-1]
}

// TestLifecycleLive drives every account command against a running
// gateway and checks each takes effect within 2 s, with no restart, while a
// bystander account pulls in a loop without a single failure.
func TestLifecycleLive(t *testing.T) {
	g := StartGateway(t, GatewayOptions{})
	admin := as("tcr$admin", g.AdminPassword)
	img, _ := random.Image(512, 1)
	require.NoError(t, crane.Push(img, g.Addr+"/team-a/app:v1", admin...))
	base := "http://" + g.Addr

	// The bystander pulls all along; none of its requests may fail.
	byUser, byPass := g.CreateAccount("bystander", "--grant", "team-a=ro")
	stop := make(chan struct{})
	var pulls, failures atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, _, _ := rawDo(t, "GET", base+"/v2/team-a/app/manifests/v1", byUser, byPass, nil,
				"Accept", "application/vnd.docker.distribution.manifest.v2+json")
			pulls.Add(1)
			if s != http.StatusOK {
				failures.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	var lat latencies
	// within runs a command, then measures until check holds (max 2 s).
	within := func(what string, check func() bool, args ...string) {
		t.Helper()
		g.MustCLI(args...)
		lat.add(eventually(t, 2*time.Second, check, "%s did not take effect", what))
	}
	status := func(method, path, user, pass string) int {
		s, _, _ := rawDo(t, method, base+path, user, pass, nil)
		return s
	}
	pushes := func(user, pass string) bool {
		return crane.Push(img, g.Addr+"/team-a/app:"+strings.TrimPrefix(user, "tcr$"), as(user, pass)...) == nil
	}

	// create -> can log in and push where granted
	out := g.MustCLI("account", "create", "fresh", "--grant", "team-a=rw", "--json")
	var created struct{ Name, Password string }
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	lat.add(eventually(t, 2*time.Second, func() bool { return status("GET", "/v2/", created.Name, created.Password) == 200 }, "create"))
	assert.True(t, pushes(created.Name, created.Password))

	// update --grant on a read-only account -> push works; --revoke -> pull refused
	roUser, roPass := g.CreateAccount("reader", "--grant", "team-a=ro")
	assert.False(t, pushes(roUser, roPass))
	within("update --grant", func() bool { return pushes(roUser, roPass) }, "account", "update", "reader", "--grant", "team-a=rw")
	within("update --revoke", func() bool { return status("GET", "/v2/team-a/app/manifests/v1", roUser, roPass) == 403 },
		"account", "update", "tcr$reader", "--revoke", "team-a")

	// disable -> 401; enable -> works again
	within("disable", func() bool { return status("GET", "/v2/", created.Name, created.Password) == 401 }, "account", "disable", "fresh")
	within("enable", func() bool { return status("GET", "/v2/", created.Name, created.Password) == 200 }, "account", "enable", "fresh")

	// rotate -> old password 401, new works
	out = g.MustCLI("account", "rotate", "fresh", "--json")
	var rotated struct{ Password string }
	require.NoError(t, json.Unmarshal([]byte(out), &rotated))
	require.NotEqual(t, created.Password, rotated.Password)
	lat.add(eventually(t, 2*time.Second, func() bool {
		return status("GET", "/v2/", created.Name, created.Password) == 401 && status("GET", "/v2/", created.Name, rotated.Password) == 200
	}, "rotate"))

	// rotate --grace -> both passwords work until the grace ends
	out = g.MustCLI("account", "rotate", "fresh", "--grace", "1h", "--json")
	var graced struct{ Password string }
	require.NoError(t, json.Unmarshal([]byte(out), &graced))
	lat.add(eventually(t, 2*time.Second, func() bool { return status("GET", "/v2/", created.Name, graced.Password) == 200 }, "rotate --grace"))
	assert.Equal(t, 200, status("GET", "/v2/", created.Name, rotated.Password), "old password valid during grace")
	assert.Equal(t, 401, status("GET", "/v2/", created.Name, created.Password), "the password before that is gone")

	// delete -> 401
	within("delete", func() bool { return status("GET", "/v2/", created.Name, graced.Password) == 401 }, "account", "delete", "fresh")

	close(stop)
	wg.Wait()
	p50, max := lat.summary()
	t.Logf("reload latency from command return to effect over %d changes: p50 %s, max %s", len(lat.d), p50, max)
	t.Logf("bystander: %d pulls during the changes, %d failed", pulls.Load(), failures.Load())
	assert.Zero(t, failures.Load(), "no request in flight may fail while accounts change")
	assert.Greater(t, pulls.Load(), int64(10))
}

// TestInvalidHandEditKeepsLastGood: a broken file is refused whole, the
// gateway keeps serving the last good list, logs the error with file and
// line, and picks up the next valid edit.
func TestInvalidHandEditKeepsLastGood(t *testing.T) {
	g := StartGateway(t, GatewayOptions{})
	user, pass := g.CreateAccount("steady", "--grant", "team-a=rw")
	path := g.AccountsFile()
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	url := "http://" + g.Addr + "/v2/"

	cases := []struct {
		name, content, logged string
	}{
		{"bad toml", string(good) + "\n[[account]\nname = \n", "accounts.toml:"},
		{"unknown access", strings.Replace(string(good), `access = "read-write" }`, `access = "admin" }`, 1), `unknown access level \"admin\"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(c.content), 0o600))
			eventually(t, 3*time.Second, func() bool { return strings.Contains(g.Stderr(), c.logged) }, "no log line with %q:\n%s", c.logged, g.Stderr())
			s, _, _ := rawDo(t, "GET", url, user, pass, nil)
			assert.Equal(t, 200, s, "still serving the last good list")
		})
	}
	logLine := lastLine(g.Stderr(), "account file refused")
	assert.Contains(t, logLine, `"file":"`+path+`"`)
	assert.Regexp(t, `accounts\.toml:\d+:`, logLine, "the error names file and line")

	// The next valid edit is picked up.
	fixed := strings.Replace(string(good), "disabled = false", "disabled = true", -1)
	require.NoError(t, os.WriteFile(path, []byte(fixed), 0o600))
	eventually(t, 2*time.Second, func() bool {
		s, _, _ := rawDo(t, "GET", url, user, pass, nil)
		return s == 401
	}, "valid edit after a broken one was not picked up")
}

func lastLine(s, contains string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], contains) {
			return lines[i]
		}
	}
	return ""
}

// TestLastUsedAndExpiryWarning: a login is recorded in the state file
// beside the account file (flushed on shutdown), shown by list and show;
// an account expiring within warn_before gets a Warning header.
func TestLastUsedAndExpiryWarning(t *testing.T) {
	g := StartGateway(t, GatewayOptions{})
	user, pass := g.CreateAccount("soon", "--grant", "team-a=ro", "--days", "3")
	s, hdr, _ := rawDo(t, "GET", "http://"+g.Addr+"/v2/", user, pass, nil)
	require.Equal(t, 200, s)
	assert.Regexp(t, `^299 - "service account tcr\$soon expires on \d{4}-\d{2}-\d{2} \(in 3 days\)"$`, hdr.Get("Warning"))
	assert.Contains(t, g.Stderr(), `"msg":"service account expires soon"`)
	_, hdr, _ = rawDo(t, "GET", "http://"+g.Addr+"/v2/", "tcr$admin", g.AdminPassword, nil)
	assert.Empty(t, hdr.Get("Warning"), "a permanent account gets no warning")

	g.Stop() // flushes last-used
	out := g.MustCLI("account", "show", "soon", "--json")
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	used, ok := v["last_used_at"].(string)
	require.True(t, ok, "last_used_at set: %s", out)
	at, err := time.Parse(time.RFC3339, used)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), at, time.Minute)
	assert.NotContains(t, out, "password_hash")
	assert.NotContains(t, out, "$2a$")

	list := g.MustCLI("account", "list")
	assert.Regexp(t, `tcr\$soon\s+active\s+\d{4}-\d{2}-\d{2} \(in 3 days\)\s+team-a:ro\s+just now`, list)
	_, err = os.Stat(g.AccountsFile() + ".lastused.json")
	require.NoError(t, err, "state file beside the account file")
	accountsFile, _ := os.ReadFile(g.AccountsFile())
	assert.NotContains(t, string(accountsFile), "last_used", "the account file stays the operator's")
}
