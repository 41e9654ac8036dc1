package e2e

// Helpers of the real-client tests (clients_*_test.go): finding the client
// programs, giving each one an isolated HOME and config, building test
// images in Go, and reading back what a client pulled.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// The messages the gateway gives for the two refused pushes every client
// test tries (SPEC section 4: "account tcr$ci-bot may not push to namespace
// team-a").
const (
	clDenyReadOnly = "account tcr$ro may not push to namespace team-a (grant team-a=read-only)"
	clDenyNoGrant  = "account tcr$ci may not push to namespace team-c (no grant covers it)"
)

// clToolsBin is where .ci/install-tools puts the Go tools.
func clToolsBin() string {
	if d := os.Getenv("ROBOTGATE_TOOLS"); d != "" {
		return filepath.Join(d, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "robotgate-tools", "bin")
}

// clTool finds a client program on PATH or in the tools dir. A missing
// client fails the test: CI installs them all, so a skip would hide a
// broken install step.
func clTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(clToolsBin(), name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p
	}
	t.Fatalf("client %q not found on PATH nor in %s: run .ci/install-tools (it installs skopeo, podman, crane, oras, regctl; docker comes with the machine)", name, clToolsBin())
	return ""
}

// clTimer logs a client test's wall time when the test ends.
func clTimer(t testing.TB) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("wall time %s: %s", t.Name(), time.Since(start).Round(time.Millisecond)) })
}

// clFixture is a gateway with the accounts every client test uses:
// tcr$ci may push to team-a and team-b, tcr$ro may only pull team-a, and
// nobody has a grant on team-c.
type clFixture struct {
	g              *Gateway
	rwUser, rwPass string
	roUser, roPass string
}

func clStart(t testing.TB) *clFixture {
	t.Helper()
	g := StartGateway(t, GatewayOptions{})
	f := &clFixture{g: g}
	f.rwUser, f.rwPass = g.CreateAccount("ci", "--grant", "team-a=rw", "--grant", "team-b=rw")
	f.roUser, f.roPass = g.CreateAccount("ro", "--grant", "team-a=ro")
	require.Equal(t, "tcr$ci", f.rwUser)
	require.Equal(t, "tcr$ro", f.roUser)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.Stderr())
		}
	})
	return f
}

// ref names a repository (and tag) on the gateway.
func (f *clFixture) ref(repoTag string) string { return f.g.Addr + "/" + repoTag }

// clEnv is one client's private world: HOME, XDG dirs, DOCKER_CONFIG,
// REGISTRY_AUTH_FILE, containers storage and TMPDIR all live under one
// temporary directory, so no test reads or writes the machine's config.
type clEnv struct {
	t   testing.TB
	Dir string
	env []string
}

func newClEnv(t testing.TB) *clEnv {
	t.Helper()
	dir := t.TempDir()
	e := &clEnv{t: t, Dir: dir}
	sub := func(p string) string {
		full := filepath.Join(dir, p)
		require.NoError(t, os.MkdirAll(full, 0o700))
		return full
	}
	home := sub("home")
	// Dropped from the inherited environment: each of these would point a
	// client at the machine's own config or credentials.
	isolated := []string{
		"HOME", "TMPDIR", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "DOCKER_AUTH_CONFIG",
		"CONTAINERS_STORAGE_CONF", "CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF",
		"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME",
		"REGCTL_CONFIG", "ORAS_CACHE", "PATH",
	}
	var keep []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(isolated, k) {
			keep = append(keep, kv)
		}
	}
	storage := filepath.Join(dir, "storage.conf")
	require.NoError(t, os.WriteFile(storage, fmt.Appendf(nil,
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", sub("containers/root"), sub("containers/run")), 0o600))
	conf := filepath.Join(dir, "containers.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil,
		"[engine]\nevents_logger = \"file\"\nevents_logfile_path = %q\ncgroup_manager = \"cgroupfs\"\ntmp_dir = %q\n[network]\nnetwork_config_dir = %q\n",
		filepath.Join(dir, "containers/events.log"), sub("containers/libpod"), sub("containers/net")), 0o600))
	regs := filepath.Join(dir, "registries.conf")
	require.NoError(t, os.WriteFile(regs, []byte("unqualified-search-registries = []\n"), 0o600))
	e.env = append(keep,
		"PATH="+clToolsBin()+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home,
		"TMPDIR="+sub("tmp"),
		"DOCKER_CONFIG="+sub("docker"),
		"REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"),
		"CONTAINERS_STORAGE_CONF="+storage,
		"CONTAINERS_CONF="+conf,
		"CONTAINERS_REGISTRIES_CONF="+regs,
		"XDG_CONFIG_HOME="+sub("xdg/config"),
		"XDG_DATA_HOME="+sub("xdg/data"),
		"XDG_CACHE_HOME="+sub("xdg/cache"),
		"XDG_STATE_HOME="+sub("xdg/state"),
	)
	return e
}

// clResult is what one client run showed.
type clResult struct {
	Out    string // stdout and stderr, interleaved as the user sees them
	Stdout string
	Code   int
}

// run executes a client program in the isolated environment with dir as
// its working directory ("" = the env's directory) and stdin fed in.
func (e *clEnv) run(dir, stdin, bin string, args ...string) clResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e.env
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = e.Dir
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out syncBuffer
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, &out), &out
	start := time.Now()
	err := cmd.Run()
	res := clResult{Out: out.String(), Stdout: stdout.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	e.t.Logf("$ %s %s  (exit %d, %s)", filepath.Base(bin), strings.Join(args, " "), res.Code, time.Since(start).Round(time.Millisecond))
	return res
}

// must runs a client and fails the test unless it exits 0.
func (e *clEnv) must(dir, stdin, bin string, args ...string) string {
	e.t.Helper()
	r := e.run(dir, stdin, bin, args...)
	require.Equal(e.t, 0, r.Code, "%s %s failed:\n%s", filepath.Base(bin), strings.Join(args, " "), r.Out)
	return r.Out
}

// stdout runs a client that must succeed and returns its standard output
// alone, trimmed (for commands that print one value, such as a digest).
func (e *clEnv) stdout(dir, stdin, bin string, args ...string) string {
	e.t.Helper()
	r := e.run(dir, stdin, bin, args...)
	require.Equal(e.t, 0, r.Code, "%s %s failed:\n%s", filepath.Base(bin), strings.Join(args, " "), r.Out)
	return strings.TrimSpace(r.Stdout)
}

// refused runs a client that must fail, and returns what it printed.
func (e *clEnv) refused(dir, stdin, bin string, args ...string) string {
	e.t.Helper()
	r := e.run(dir, stdin, bin, args...)
	require.NotEqual(e.t, 0, r.Code, "%s %s should have failed:\n%s", filepath.Base(bin), strings.Join(args, " "), r.Out)
	e.t.Logf("refused as expected, client printed:\n%s", strings.TrimSpace(r.Out))
	return r.Out
}

// clImage is a small test image built in Go: one layer holding payload.bin
// (random bytes, so no two tests share a blob) and payload.txt.
type clImage struct {
	Payload  []byte
	LayerTar string // the uncompressed layer, for docker import / podman import
	Tarball  string // docker-archive (docker save format) of the image
	Image    v1.Image
}

// clMakeImage writes a test image into dir. platform may be nil.
func clMakeImage(t testing.TB, dir string, payloadSize int, platform *v1.Platform) clImage {
	t.Helper()
	payload := make([]byte, payloadSize)
	_, err := rand.Read(payload)
	require.NoError(t, err)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range []struct {
		name string
		data []byte
	}{{"payload.bin", payload}, {"payload.txt", []byte("robotgate client test\n")}} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}))
		_, err = tw.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, os.MkdirAll(dir, 0o700))
	im := clImage{Payload: payload, LayerTar: filepath.Join(dir, "layer.tar"), Tarball: filepath.Join(dir, "image.tar")}
	require.NoError(t, os.WriteFile(im.LayerTar, layer.Bytes(), 0o600))

	lyr, err := tarball.LayerFromFile(im.LayerTar)
	require.NoError(t, err)
	img, err := mutate.AppendLayers(empty.Image, lyr)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if platform != nil {
		cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	}
	cf.Config.Cmd = []string{"/payload.bin"}
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	im.Image = img
	tag, err := name.NewTag("robotgate.invalid/test/image:latest")
	require.NoError(t, err)
	require.NoError(t, tarball.WriteToFile(im.Tarball, tag, img))
	return im
}

// clPayloadOfTarball reads payload.bin out of an image tarball in docker
// save format (docker save, podman save, crane pull, regctl export).
func clPayloadOfTarball(t testing.TB, path string) []byte {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	require.NoError(t, err, "read image tarball %s", path)
	layers, err := img.Layers()
	require.NoError(t, err)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		data, found := clFileInTar(t, rc, "payload.bin")
		rc.Close()
		if found {
			return data
		}
	}
	t.Fatalf("no payload.bin in any layer of %s", path)
	return nil
}

// clPayloadOfGzipLayer reads payload.bin out of a gzip-compressed layer file.
func clPayloadOfGzipLayer(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err, "layer %s is not gzip", path)
	data, found := clFileInTar(t, zr, "payload.bin")
	require.True(t, found, "no payload.bin in %s", path)
	return data
}

func clFileInTar(t testing.TB, r io.Reader, name string) ([]byte, bool) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, false
		}
		require.NoError(t, err)
		if strings.TrimPrefix(h.Name, "./") == name {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return b, true
		}
	}
}

// clManifestAccept names every manifest type a registry may hold.
const clManifestAccept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// manifest fetches a manifest through the gateway by hand and checks that
// the digest the registry names is the sha256 of the bytes that came back.
func (f *clFixture) manifest(t testing.TB, user, pass, repo, ref string) (digest string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.g.URL()+"/v2/"+repo+"/manifests/"+ref, nil)
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Accept", clManifestAccept)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET manifest %s:%s: %s", repo, ref, body)
	sum := sha256.Sum256(body)
	digest = "sha256:" + hex.EncodeToString(sum[:])
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"), "Docker-Content-Digest of %s:%s", repo, ref)
	return digest, body
}

// clAuditLine is one access-log line of the gateway (SPEC section 5).
type clAuditLine struct {
	Logger     string `json:"logger"`
	Account    string `json:"account"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Decision   string `json:"decision"`
	Reason     string `json:"reason"`
	Status     int    `json:"status"`
	BytesIn    int64  `json:"bytes_in"`
	BytesOut   int64  `json:"bytes_out"`
	Action     string `json:"action"`
	Namespace  string `json:"namespace"`
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

func (f *clFixture) audit(t testing.TB) []clAuditLine {
	t.Helper()
	var lines []clAuditLine
	for _, s := range strings.Split(f.g.Stderr(), "\n") {
		var l clAuditLine
		if !strings.HasPrefix(s, "{") || json.Unmarshal([]byte(s), &l) != nil || l.Logger != "access" {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// requireDenied checks that the audit log holds a refused push of account
// to repo, with the reason the client was told.
func (f *clFixture) requireDenied(t testing.TB, account, repo, reason string) {
	t.Helper()
	for _, l := range f.audit(t) {
		if l.Account == account && l.Repository == repo && l.Decision == "deny" && l.Status == http.StatusForbidden && l.Reason == reason {
			return
		}
	}
	t.Fatalf("no audit line denying %s on %s with reason %q:\n%s", account, repo, reason, f.g.Stderr())
}

// clDigestRe finds a sha256 digest in client output.
var clDigestRe = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// clFirstDigest returns the first digest after marker in out.
func clFirstDigest(t testing.TB, out, marker string) string {
	t.Helper()
	i := strings.Index(out, marker)
	require.GreaterOrEqual(t, i, 0, "%q not in output:\n%s", marker, out)
	d := clDigestRe.FindString(out[i:])
	require.NotEmpty(t, d, "no digest after %q in:\n%s", marker, out)
	return d
}

func clReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
