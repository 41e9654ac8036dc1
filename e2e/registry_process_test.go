package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// RegistryOptions describe an external CNCF distribution registry process
// (the `registry` binary, v3.1.2, from .ci/install-tools). The zero value
// is an open registry on a free loopback port with deletes enabled and
// filesystem storage in a fresh t.TempDir().
type RegistryOptions struct {
	// Htpasswd turns on htpasswd auth (realm "upstream") with these users,
	// user -> password, hashed with bcrypt cost 4 so the registry's
	// per-request bcrypt stays cheap. Mutually exclusive with Token.
	Htpasswd map[string]string
	// Token turns on token auth: the registry accepts only JWTs issued by
	// this service (see StartTokenServer).
	Token *TokenAuth
	// TLS serves HTTPS with this certificate; nil serves plain HTTP.
	TLS *RegistryTLS
	// Addr is the loopback host:port to listen on; empty picks a free
	// port. Give the Addr of a stopped registry to start another in its
	// place.
	Addr string
	// LogLevel is the registry's log level; empty means "error" (token
	// verification failures are logged at info).
	LogLevel string
	// Binary runs another registry program that takes the same config and
	// `serve CONFIG` (Debian's /usr/bin/docker-registry, distribution
	// 2.8); empty runs the CNCF registry v3 (registryBinary).
	Binary string
}

// TokenAuth is the registry's `auth: token` section.
type TokenAuth struct {
	Realm, Service, Issuer string
	// RootCertBundle is a PEM file with the certificates whose keys sign
	// tokens (the JWT header's x5c chain must end in one of them).
	RootCertBundle string
}

// RegistryTLS is the registry's `http.tls` section.
type RegistryTLS struct {
	CertFile, KeyFile string
}

// Registry is a running `registry serve` process.
type Registry struct {
	t testing.TB
	// URL is the base URL (http://127.0.0.1:port or https://...).
	URL string
	// Addr is host:port, as image references and GatewayOptions use it.
	Addr string
	// Dir holds config.yml, htpasswd and the storage root (data/).
	Dir string

	configPath string
	tls        bool
	binary     string // empty: registryBinary
	cmd        *exec.Cmd
	exited     chan struct{}
	logs       *syncBuffer
}

// registryBinary finds the registry: $ROBOTGATE_REGISTRY_BIN, the tools
// dir of .ci/install-tools, then PATH.
func registryBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ROBOTGATE_REGISTRY_BIN"); p != "" {
		return p
	}
	tools := os.Getenv("ROBOTGATE_TOOLS")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache", "robotgate-tools")
	}
	if p := filepath.Join(tools, "bin", "registry"); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath("registry"); err == nil {
		return p
	}
	t.Fatalf("the CNCF registry binary is not installed: run .ci/install-tools (or GOBIN=%s/bin go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2)", tools)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// StartRegistry writes a config for o, starts the registry, waits until it
// answers /v2/ and stops it when the test ends.
func StartRegistry(t testing.TB, o RegistryOptions) *Registry {
	t.Helper()
	require.False(t, o.Htpasswd != nil && o.Token != nil, "htpasswd and token auth are exclusive")
	r := &Registry{t: t, Dir: t.TempDir(), Addr: o.Addr, tls: o.TLS != nil, binary: o.Binary}
	if r.Addr == "" {
		r.Addr = freeAddr(t)
	}
	scheme := "http"
	if r.tls {
		scheme = "https"
	}
	r.URL = scheme + "://" + r.Addr
	r.configPath = filepath.Join(r.Dir, "config.yml")
	require.NoError(t, os.WriteFile(r.configPath, []byte(r.config(o)), 0o600))
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

func (r *Registry) config(o RegistryOptions) string {
	level := o.LogLevel
	if level == "" {
		level = "error"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version: 0.1\nlog:\n  level: %s\n  accesslog:\n    disabled: true\n", level)
	fmt.Fprintf(&b, "storage:\n  filesystem:\n    rootdirectory: %q\n  delete:\n    enabled: true\n", filepath.Join(r.Dir, "data"))
	fmt.Fprintf(&b, "http:\n  addr: %s\n  secret: e2e-test-secret\n", r.Addr)
	if o.TLS != nil {
		fmt.Fprintf(&b, "  tls:\n    certificate: %q\n    key: %q\n", o.TLS.CertFile, o.TLS.KeyFile)
	}
	switch {
	case o.Htpasswd != nil:
		path := filepath.Join(r.Dir, "htpasswd")
		users := make([]string, 0, len(o.Htpasswd))
		for u := range o.Htpasswd {
			users = append(users, u)
		}
		sort.Strings(users)
		var lines strings.Builder
		for _, u := range users {
			h, err := bcrypt.GenerateFromPassword([]byte(o.Htpasswd[u]), 4)
			require.NoError(r.t, err)
			fmt.Fprintf(&lines, "%s:%s\n", u, h)
		}
		require.NoError(r.t, os.WriteFile(path, []byte(lines.String()), 0o600))
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: upstream\n    path: %q\n", path)
	case o.Token != nil:
		fmt.Fprintf(&b, "auth:\n  token:\n    realm: %q\n    service: %q\n    issuer: %q\n    rootcertbundle: %q\n",
			o.Token.Realm, o.Token.Service, o.Token.Issuer, o.Token.RootCertBundle)
	}
	return b.String()
}

// Start (re)starts the process with the same config, port and storage.
func (r *Registry) Start() {
	r.t.Helper()
	r.logs = &syncBuffer{}
	bin := r.binary
	if bin == "" {
		bin = registryBinary(r.t)
	}
	r.cmd = exec.Command(bin, "serve", r.configPath)
	r.cmd.Dir = r.Dir
	// distribution v3 exports traces over OTLP by default; there is no
	// collector here, and every request would try to reach one.
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	require.NoError(r.t, r.cmd.Start())
	r.exited = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.exited) }()

	client := insecureClient()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			r.t.Fatalf("registry exited early:\n%s", r.Logs())
		default:
		}
		resp, err := client.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("registry at %s not ready after 20s:\n%s", r.URL, r.Logs())
}

// Stop ends the process (SIGTERM, then SIGKILL after 10s). Storage stays,
// so Start brings the same content back.
func (r *Registry) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// Logs is what the registry printed so far.
func (r *Registry) Logs() string { return r.logs.String() }
