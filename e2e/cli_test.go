package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// cliDir is a config directory for account commands without a gateway.
func cliDir(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "robotgate.toml"), []byte("[accounts]\nfile = \"accounts.toml\"\n"), 0o600))
	return filepath.Join(dir, "robotgate.toml")
}

func TestAccountCommandErrors(t *testing.T) {
	cfg := cliDir(t)
	_, _, code := runCLI(cfg, "", "account", "create", "exists", "--grant", "a=ro")
	require.Equal(t, 0, code)
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"bad name", "", []string{"account", "create", "Bad_Name"}, 1, "[a-z0-9][a-z0-9._-]*, at most 64 characters"},
		{"name too long", "", []string{"account", "create", strings.Repeat("a", 65)}, 1, "at most 64 characters"},
		{"bad access", "", []string{"account", "create", "x", "--grant", "team-a=admin"}, 1, "read-only (ro), read-write (rw) or read-write-delete (rwd)"},
		{"grant without =", "", []string{"account", "create", "x", "--grant", "team-a"}, 1, "use NAMESPACE=ACCESS"},
		{"bad namespace", "", []string{"account", "create", "x", "--grant", "Team/A=ro"}, 1, "invalid namespace pattern"},
		{"short password", "Ab1\n", []string{"account", "create", "x", "--password-stdin"}, 1, "8 to 72 bytes"},
		{"long password", strings.Repeat("Ab1", 25) + "\n", []string{"account", "create", "x", "--password-stdin"}, 1, "bcrypt reads no further"},
		{"weak password", "alllowercase1\n", []string{"account", "create", "x", "--password-stdin"}, 1, "one upper-case letter"},
		{"days zero", "", []string{"account", "create", "x", "--days", "0"}, 1, "--days must be at least 1"},
		{"days not a number", "", []string{"account", "create", "x", "--days", "ten"}, 1, "--days wants a whole number"},
		{"grace not a duration", "", []string{"account", "rotate", "exists", "--grace", "1d"}, 1, "use a Go duration such as 24h"},
		{"shell ate the name", "", []string{"account", "create", "tcr"}, 1, "put the name in single quotes"},
		{"expires past", "", []string{"account", "create", "x", "--expires", "2020-01-01"}, 1, "not in the future"},
		{"expires garbage", "", []string{"account", "create", "x", "--expires", "tomorrow"}, 1, "use YYYY-MM-DD or RFC 3339"},
		{"two validities", "", []string{"account", "create", "x", "--days", "3", "--permanent"}, 1, "only one of --days, --expires and --permanent"},
		{"exists", "", []string{"account", "create", "tcr$exists"}, 1, "already exists"},
		{"unknown account", "", []string{"account", "disable", "ghost"}, 1, "no service account tcr$ghost; see robotgate account list"},
		{"unknown account show", "", []string{"account", "show", "ghost"}, 1, "see robotgate account list"},
		{"revoke missing grant", "", []string{"account", "update", "exists", "--revoke", "zzz"}, 1, "has no grant on \"zzz\""},
		{"update nothing", "", []string{"account", "update", "exists"}, 2, "nothing to change"},
		{"unknown command", "", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown subcommand", "", []string{"account", "frobnicate"}, 2, "unknown account subcommand"},
		{"unknown flag", "", []string{"account", "list", "--colour"}, 2, "flag provided but not defined"},
		{"missing name", "", []string{"account", "create"}, 2, "exactly one NAME"},
		{"no command", "", nil, 2, "no command given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "accounts.toml"))
			out, errOut, code := runCLI(cfg, tt.stdin, tt.args...)
			assert.Equal(t, tt.code, code, "stdout %s stderr %s", out, errOut)
			assert.Contains(t, errOut, tt.msg)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(strings.Split(errOut, "\nrun 'robotgate help'")[0]), "robotgate:"), "one reason line")
			after, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "accounts.toml"))
			assert.Equal(t, string(before), string(after), "a refused command changes nothing")
		})
	}
}

func TestAccountCommandsOutput(t *testing.T) {
	cfg := cliDir(t)
	out, errOut, code := runCLI(cfg, "", "account", "create", "ci-bot", "--grant", "team-a=rw", "--grant", "base=ro", "--description", "release pipeline")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^password \(shown once, store it now\): [A-Za-z0-9]{32}$`, out)
	assert.Contains(t, out, "docker login -u 'tcr$ci-bot' --password-stdin")

	out, _, code = runCLI(cfg, "My-Own-Pass1\n", "account", "create", "tcr$custom", "--password-stdin", "--permanent", "--json")
	require.Equal(t, 0, code)
	var created map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	assert.Equal(t, "tcr$custom", created["name"])
	assert.Equal(t, "My-Own-Pass1", created["password"])
	assert.Nil(t, created["expires_at"])
	assert.Contains(t, created, "created_at")

	// The file holds bcrypt cost 10 hashes, never the password.
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "accounts.toml"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), "My-Own-Pass1")
	st, _ := os.Stat(filepath.Join(filepath.Dir(cfg), "accounts.toml"))
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	out, _, code = runCLI(cfg, "", "account", "show", "ci-bot", "--json")
	require.Equal(t, 0, code)
	var shown map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	for _, k := range []string{"name", "description", "state", "disabled", "created_at", "updated_at", "expires_at", "grants", "last_used_at"} {
		assert.Contains(t, shown, k)
	}
	assert.Equal(t, []any{map[string]any{"namespace": "team-a", "access": "read-write"}, map[string]any{"namespace": "base", "access": "read-only"}}, shown["grants"])
	assert.NotContains(t, out, "$2a$")

	_, _, code = runCLI(cfg, "", "account", "update", "ci-bot", "--permanent", "--grant", "team-a=rwd", "--revoke", "base", "--description", "")
	require.Equal(t, 0, code)
	out, _, _ = runCLI(cfg, "", "account", "list")
	assert.Regexp(t, `(?m)^NAME\s+STATE\s+EXPIRES\s+GRANTS\s+LAST USED\s+DESCRIPTION$`, out)
	assert.Regexp(t, `(?m)^tcr\$ci-bot\s+active\s+never\s+team-a:rwd\s+never\s*$`, out)

	_, _, code = runCLI(cfg, "", "account", "disable", "ci-bot")
	require.Equal(t, 0, code)
	out, _, _ = runCLI(cfg, "", "account", "list", "--json")
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 2)
	assert.Equal(t, "disabled", list[0]["state"])
	assert.Equal(t, true, list[0]["disabled"])
}

// TestConcurrentCreates: 20 account create processes at once leave exactly
// 20 accounts and a valid file (the flock serialises their edits).
func TestConcurrentCreates(t *testing.T) {
	cfg := cliDir(t)
	var wg sync.WaitGroup
	errs := make([]string, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, e, code := runCLI(cfg, "", "account", "create", fmt.Sprintf("bot-%02d", i), "--grant", "team-a=ro")
			if code != 0 {
				errs[i] = e
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		assert.Empty(t, e, "create %d", i)
	}
	out, errOut, code := runCLI(cfg, "", "account", "list", "--json")
	require.Equal(t, 0, code, errOut)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	assert.Len(t, list, 20)
	_, errOut, code = runCLI(cfg, "", "config", "check")
	assert.Equal(t, 0, code, errOut)
}

// TestListTenThousand times `account list` on a file of 10 000 accounts.
func TestListTenThousand(t *testing.T) {
	cfg := cliDir(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("Unused-pass1"), 4)
	require.NoError(t, err)
	var b strings.Builder
	exp := time.Now().Add(240 * time.Hour).UTC().Format(time.RFC3339)
	for i := range 10000 {
		fmt.Fprintf(&b, "[[account]]\nname = \"tcr$bot-%05d\"\ndescription = \"pipeline %d\"\npassword_hash = %q\nexpires_at = %s\ngrants = [ { namespace = \"team-%d\", access = \"rw\" } ]\n\n", i, i, hash, exp, i%50)
	}
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(cfg), "accounts.toml"), []byte(b.String()), 0o600))
	for _, args := range [][]string{{"account", "list"}, {"account", "list", "--json"}} {
		start := time.Now()
		cmd := exec.Command(robotgateBin, append(args, "--config", cfg)...)
		out, err := cmd.Output()
		took := time.Since(start)
		require.NoError(t, err)
		lines := strings.Count(string(out), "tcr$bot-")
		assert.Equal(t, 10000, lines)
		t.Logf("robotgate %s with 10000 accounts: %s", strings.Join(args, " "), took.Round(time.Millisecond))
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "robotgate.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("[server]\nlisten = \":5000\"\nlistne = \"x\"\n"), 0o600))
	_, errOut, code := runCLI(cfg, "", "config", "check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `robotgate.toml:3: unknown key "server.listne"`)

	require.NoError(t, os.WriteFile(cfg, []byte(`[server]
listen = "nope"
[upstream]
url = "ftp://x"
[accounts]
cache_size = 0
[log]
level = "loud"
format = "xml"
`), 0o600))
	_, errOut, code = runCLI(cfg, "", "config", "check")
	assert.Equal(t, 1, code)
	for _, key := range []string{"server.listen", "upstream.url", "accounts.cache_size", "log.level", "log.format"} {
		assert.Contains(t, errOut, key+":", "every problem is reported")
	}

	require.NoError(t, os.WriteFile(cfg, []byte("[accounts]\nfile = \"accounts.toml\"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accounts.toml"), []byte("[[account]]\nname = \"tcr$a\"\npassword_hash = \"nope\"\ngrants = [{ namespace = \"x\", access = \"rx\" }]\n"), 0o600))
	_, errOut, code = runCLI(cfg, "", "config", "check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "accounts.toml:3:")
	assert.Contains(t, errOut, "accounts.toml:4:")

	require.NoError(t, os.Remove(filepath.Join(dir, "accounts.toml")))
	out, errOut, code := runCLI(cfg, "", "config", "check")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "serve will create it")
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(filepath.Join(t.TempDir(), "none.toml"), "", "version")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^robotgate \S+ \(commit \S+.*go1\.\d+`, out)
}

// TestServeBusyPortKeepsTheFirstRunPassword: a port that is taken fails
// before the first-run banner, so the one-time admin password is not spent
// on a gateway that never ran.
func TestServeBusyPortKeepsTheFirstRunPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "robotgate.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("[server]\nlisten = %q\n", ln.Addr().String())), 0o600))
	_, errOut, code := runCLI(cfg, "", "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "address already in use")
	assert.Contains(t, errOut, "set [server] listen in")
	assert.NotContains(t, errOut, "password for")
	_, err = os.Stat(filepath.Join(dir, "accounts.toml"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no account file, so the next start prints the banner")
}

func TestHelpAndCustomPassword(t *testing.T) {
	cfg := cliDir(t)
	for _, args := range [][]string{{"--help"}, {"account", "--help"}, {"account", "create", "-h"}, {"help"}} {
		out, errOut, code := runCLI(cfg, "", args...)
		assert.Equal(t, 0, code, "%v: %s", args, errOut)
		assert.Contains(t, out, "usage: robotgate", "%v", args)
	}
	out, _, code := runCLI(cfg, "Custom-Pass-9\n", "account", "create", "own", "--password-stdin", "--grant", "a=ro", "--grant", "a=rw")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "Custom-Pass-9", "a custom password is not echoed")
	out, _, _ = runCLI(cfg, "", "account", "list")
	assert.Regexp(t, `tcr\$own\s+active\s+\S+ \(in 30 days\)\s+a:rw\s`, out, "a later --grant on the same namespace replaces the earlier")
}
