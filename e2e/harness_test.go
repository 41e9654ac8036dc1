package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// GatewayOptions describe the config file a test gateway gets.
type GatewayOptions struct {
	Upstream     string   // "" = embedded
	UpstreamUser string   // [upstream] username
	UpstreamPass string   // written to a password_file
	CAFile       string   // [upstream] ca_file
	Public       []string // [public] namespaces
	TLSCert      string   // [server] tls_cert_file / tls_key_file
	TLSKey       string
	WarnBefore   string // [accounts] warn_before
	// Extra is appended to the [upstream] table (e.g. follow_redirects = true).
	ExtraUpstream string
	// Env is added to the gateway's environment.
	Env []string
}

// Gateway is a running robotgate serve process.
type Gateway struct {
	t          testing.TB
	Dir        string
	ConfigPath string
	Addr       string // 127.0.0.1:port
	// AdminPassword is tcr$admin's password from the first-run banner.
	AdminPassword string
	stderr        *syncBuffer
	cmd           *exec.Cmd
	exited        chan struct{}
}

// StartGateway writes a config into a fresh directory and starts serve.
func StartGateway(t testing.TB, o GatewayOptions) *Gateway {
	t.Helper()
	dir := t.TempDir()
	g := &Gateway{t: t, Dir: dir, ConfigPath: filepath.Join(dir, "robotgate.toml")}
	require.NoError(t, os.WriteFile(g.ConfigPath, []byte(g.config(o)), 0o600))
	g.start(o.Env)
	m := regexp.MustCompile(`password for tcr\$admin \(shown once, store it now\): (\S+)`).FindStringSubmatch(g.Stderr())
	require.Len(t, m, 2, "first-run banner missing:\n%s", g.Stderr())
	g.AdminPassword = m[1]
	return g
}

func (g *Gateway) config(o GatewayOptions) string {
	g.Addr = freeAddr(g.t)
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = %q\nshutdown_timeout = \"10s\"\n", g.Addr)
	if o.TLSCert != "" {
		fmt.Fprintf(&b, "tls_cert_file = %q\ntls_key_file = %q\n", o.TLSCert, o.TLSKey)
	}
	up := o.Upstream
	if up == "" {
		up = "embedded"
	}
	fmt.Fprintf(&b, "[upstream]\nurl = %q\ndata_dir = \"data\"\n", up)
	if o.UpstreamUser != "" {
		pf := filepath.Join(g.Dir, "upstream-password")
		require.NoError(g.t, os.WriteFile(pf, []byte(o.UpstreamPass+"\n"), 0o600))
		fmt.Fprintf(&b, "username = %q\npassword_file = %q\n", o.UpstreamUser, pf)
	}
	if o.CAFile != "" {
		fmt.Fprintf(&b, "ca_file = %q\n", o.CAFile)
	}
	b.WriteString(o.ExtraUpstream + "\n")
	b.WriteString("[accounts]\nfile = \"accounts.toml\"\n")
	if o.WarnBefore != "" {
		fmt.Fprintf(&b, "warn_before = %q\n", o.WarnBefore)
	}
	if len(o.Public) > 0 {
		q := make([]string, len(o.Public))
		for i, p := range o.Public {
			q[i] = fmt.Sprintf("%q", p)
		}
		fmt.Fprintf(&b, "[public]\nnamespaces = [%s]\n", strings.Join(q, ", "))
	}
	b.WriteString("[log]\nlevel = \"info\"\nformat = \"json\"\n")
	return b.String()
}

func (g *Gateway) start(env []string) {
	g.t.Helper()
	g.stderr = &syncBuffer{}
	g.cmd = exec.Command(robotgateBin, "serve", "--config", g.ConfigPath)
	g.cmd.Dir = g.Dir
	g.cmd.Env = append(os.Environ(), env...)
	g.cmd.Stdout = g.stderr
	g.cmd.Stderr = g.stderr
	require.NoError(g.t, g.cmd.Start())
	g.exited = make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(g.exited) }()
	g.t.Cleanup(g.Stop)
	g.waitReady()
}

// waitReady polls /v2/ until the gateway answers (401 without credentials).
func (g *Gateway) waitReady() {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	client := insecureClient()
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			g.t.Fatalf("robotgate serve exited early:\n%s", g.Stderr())
		default:
		}
		resp, err := client.Get(g.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatalf("robotgate serve not ready after 20s:\n%s", g.Stderr())
}

// Restart stops the process and starts it again on the same directory.
func (g *Gateway) Restart() {
	g.t.Helper()
	g.Stop()
	g.start(nil)
}

// Stop sends SIGTERM and waits for the process to end.
func (g *Gateway) Stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

// URL is the gateway's base URL.
func (g *Gateway) URL() string {
	if strings.Contains(g.config0(), "tls_cert_file") {
		return "https://" + g.Addr
	}
	return "http://" + g.Addr
}

func (g *Gateway) config0() string {
	b, _ := os.ReadFile(g.ConfigPath)
	return string(b)
}

// Stderr is everything serve printed so far.
func (g *Gateway) Stderr() string { return g.stderr.String() }

// AccountsFile is the path of the gateway's account file.
func (g *Gateway) AccountsFile() string { return filepath.Join(g.Dir, "accounts.toml") }

// CLI runs a robotgate command against the gateway's config.
func (g *Gateway) CLI(stdin string, args ...string) (stdout, stderr string, code int) {
	return runCLI(g.ConfigPath, stdin, args...)
}

func runCLI(configPath, stdin string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(robotgateBin, append(args, "--config", configPath)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}

// CreateAccount creates an account with grants like "team-a=rw" plus any
// extra flags, and returns its full name and password.
func (g *Gateway) CreateAccount(name string, args ...string) (user, pass string) {
	g.t.Helper()
	out, errOut, code := g.CLI("", append([]string{"account", "create", name, "--json"}, args...)...)
	require.Equal(g.t, 0, code, "account create %s: %s", name, errOut)
	var res struct{ Name, Password string }
	require.NoError(g.t, json.Unmarshal([]byte(out), &res), out)
	g.WaitKnown(res.Name, res.Password)
	return res.Name, res.Password
}

// WaitKnown waits until the running gateway has loaded the account: its
// password is no longer refused as unknown (a disabled or expired account
// answers with its state instead).
func (g *Gateway) WaitKnown(user, pass string) {
	g.t.Helper()
	eventually(g.t, 5*time.Second, func() bool {
		req, _ := http.NewRequest("GET", g.URL()+"/v2/", nil)
		req.SetBasicAuth(user, pass)
		resp, err := insecureClient().Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK || !strings.Contains(string(b), "invalid username or password")
	}, "account %s never became known to the gateway", user)
}

// MustCLI runs a command and fails the test unless it exits 0.
func (g *Gateway) MustCLI(args ...string) string {
	g.t.Helper()
	out, errOut, code := g.CLI("", args...)
	require.Equal(g.t, 0, code, "robotgate %v: %s%s", args, out, errOut)
	return out
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func insecureClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // readiness probe only
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// eventually polls cond until it holds or d passes, and returns how long
// it took.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not within %s: "+msg, append([]any{d}, args...)...)
	return 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
