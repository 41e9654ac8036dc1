package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// The OCI distribution-spec conformance suite, run as the program
// .ci/install-tools builds (see .ci/CONFORMANCE-NOTES.md for how it behaves).

const (
	// confSuiteTimeout bounds one run of the suite; a full run takes 6-10 s.
	confSuiteTimeout = 3 * time.Minute
	// confSummaryEnv names a file that every conformance test appends its
	// one-line counts to, so CI can print them although `go test` without
	// -v hides the output of passing tests.
	confSummaryEnv = "ROBOTGATE_CONFORMANCE_SUMMARY"
	// confNamespace is the namespace OCI_REPO1 and OCI_REPO2 live in, and the
	// one the gateway's accounts are granted.
	confNamespace = "conformance"
	confRepo1     = confNamespace + "/repo1"
	confRepo2     = confNamespace + "/repo2"
)

// confReadOnlyEnv switches the suite to read-only mode: nothing is pushed
// or deleted, only the content named by the OCI_RO_DATA_* settings is read.
func confReadOnlyEnv(c confROContent) []string {
	return []string{
		"OCI_API_PUSH=false",
		"OCI_API_BLOBS_DELETE=false",
		"OCI_API_MANIFESTS_DELETE=false",
		"OCI_API_TAGS_DELETE=false",
		"OCI_RO_DATA_TAGS=" + strings.Join(c.Tags, " "),
		"OCI_RO_DATA_MANIFESTS=" + strings.Join(c.Manifests, " "),
		"OCI_RO_DATA_BLOBS=" + strings.Join(c.Blobs, " "),
	}
}

// confReadOnlyFilter limits a read-only run to the suite's read-only
// subtree: it avoids the suite's panic while writing results.yaml in
// read-only mode, so junit.xml gets written.
const confReadOnlyFilter = "OCI_FILTER_TEST=OCI Conformance Test/read-only"

// confRun says where and how to run the suite once.
type confRun struct {
	Registry   string // host:port, plain HTTP
	User, Pass string // "" = anonymous
	Repo1      string // OCI_REPO1 (default confRepo1)
	Repo2      string // OCI_REPO2 (default confRepo2)
	Env        []string
}

// confCase is one leaf test of a run.
type confCase struct {
	Name    string
	Status  string // passed, failure, error or skipped (junit's words)
	Message string // the failure or skip reason
	Trace   string // the suite's request/response dump (junit only)
}

// confResult is what one run of the suite produced.
type confResult struct {
	Label    string
	Exit     int
	Elapsed  time.Duration
	Stdout   string
	Stderr   string
	Dir      string
	Cases    []confCase // junit leaves, or the printed tree's leaves without junit.xml
	Junit    bool       // Cases come from junit.xml
	Panicked bool       // the suite panicked after printing its report
	Summary  map[string]int
}

// confBin finds a tool that .ci/install-tools installs: in its tools
// directory or on PATH (as registryBinary does for the registry). A missing
// tool fails the test rather than skipping it, so CI cannot pass without
// having run the suite.
func confBin(t testing.TB, tool string) string {
	t.Helper()
	dir := os.Getenv("ROBOTGATE_TOOLS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "robotgate-tools")
	}
	if p := filepath.Join(dir, "bin", tool); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	t.Fatalf("%s is not installed: run .ci/install-tools", tool)
	return ""
}

// confUpstreamRegistry is an external registry process for one run, and the
// login it wants (empty without auth).
type confUpstreamRegistry struct {
	*Registry
	User, Pass string
}

// confUpstream starts a CNCF registry with fresh storage, with htpasswd auth
// when auth is set.
func confUpstream(t testing.TB, auth bool) confUpstreamRegistry {
	t.Helper()
	if !auth {
		return confUpstreamRegistry{Registry: StartRegistry(t, RegistryOptions{})}
	}
	const user, pass = "upuser", "Up-pass-123"
	return confUpstreamRegistry{
		Registry: StartRegistry(t, RegistryOptions{Htpasswd: map[string]string{user: pass}}),
		User:     user, Pass: pass,
	}
}

// confRegistryBin is the registry binary StartRegistry runs.
func confRegistryBin(t testing.TB) string { return registryBinary(t) }

// runConformance runs the suite once, in a fresh results directory, with
// an environment that holds no OCI_* variable of the caller's.
func runConformance(t testing.TB, label string, r confRun) *confResult {
	t.Helper()
	bin := confBin(t, "conformance")
	if r.Repo1 == "" {
		r.Repo1 = confRepo1
	}
	if r.Repo2 == "" {
		r.Repo2 = confRepo2
	}
	// Kept when the test fails, for junit.xml and the suite's own report.
	dir, err := os.MkdirTemp("", "robotgate-conformance-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: results kept in %s", label, dir)
			return
		}
		_ = os.RemoveAll(dir)
	})

	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OCI_REGISTRY="+r.Registry,
		"OCI_TLS=disabled",
		"OCI_REPO1="+r.Repo1,
		"OCI_REPO2="+r.Repo2,
		"OCI_USERNAME="+r.User,
		"OCI_PASSWORD="+r.Pass,
		"OCI_RESULTS_DIR="+dir,
		// It would silently read ./oci-conformance.yaml otherwise.
		"OCI_CONFIGURATION=/dev/null",
	)
	env = append(env, r.Env...)

	ctx, cancel := context.WithTimeout(context.Background(), confSuiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	res := &confResult{Label: label, Elapsed: time.Since(start), Stdout: stdout.String(), Stderr: stderr.String(), Dir: dir}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
	default:
		t.Fatalf("conformance %s: %v\n%s", label, err, res.Stderr)
	}
	require.NoError(t, ctx.Err(), "conformance %s did not finish within %s", label, confSuiteTimeout)
	// It exits 0 when it cannot load its configuration: only the printed
	// result line shows that it ran.
	require.Contains(t, res.Stdout, "OCI Conformance Result:",
		"conformance %s printed no result (exit %d):\n%s", label, res.Exit, confTail(res.Stderr, 40))
	res.Panicked = strings.Contains(res.Stderr, "\npanic: ") || strings.HasPrefix(res.Stderr, "panic: ")
	res.Summary = confSummaryCounts(res.Stdout)

	if data, err := os.ReadFile(filepath.Join(dir, "junit.xml")); err == nil && len(data) > 0 {
		cases, err := confParseJunit(data)
		require.NoError(t, err, "conformance %s: junit.xml", label)
		res.Cases, res.Junit = cases, true
	} else {
		res.Cases = confParseTree(res.Stdout)
	}
	require.NotEmpty(t, res.Cases, "conformance %s: no test results (exit %d)\n%s", label, res.Exit, confTail(res.Stderr, 40))
	if res.Exit != 0 && res.Exit != 1 && !res.Panicked {
		t.Fatalf("conformance %s: exit %d\n%s", label, res.Exit, confTail(res.Stderr, 40))
	}
	return res
}

type confJunit struct {
	Suites []struct {
		Cases []struct {
			Name      string `xml:"name,attr"`
			Status    string `xml:"status,attr"`
			SystemOut string `xml:"system-out"`
			SystemErr string `xml:"system-err"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func confParseJunit(data []byte) ([]confCase, error) {
	var j confJunit
	if err := xml.Unmarshal(data, &j); err != nil {
		return nil, err
	}
	var cases []confCase
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			cases = append(cases, confCase{Name: c.Name, Status: c.Status, Message: c.SystemOut, Trace: c.SystemErr})
		}
	}
	return cases, nil
}

// confTreeLine is one node of the report the suite prints on stdout:
// indentation, full name, status. Error lines in between start with " - "
// or are continuations of a multi-line error.
var confTreeLine = regexp.MustCompile(`^( *)(OCI Conformance Test(?:/.*)?): (Pass|FAIL|Skip|Disabled|Error)$`)

var confTreeStatus = map[string]string{
	"Pass": "passed", "FAIL": "failure", "Error": "error", "Skip": "skipped", "Disabled": "skipped",
}

// confParseTree reads the leaves of the printed report (the nodes with no
// deeper node right after them), for runs that write no junit.xml.
func confParseTree(stdout string) []confCase {
	type node struct {
		indent int
		c      confCase
	}
	var nodes []node
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inTree := false
	for sc.Scan() {
		line := sc.Text()
		if line == "Test results" {
			inTree = true
			continue
		}
		if !inTree {
			continue
		}
		if line == "Configuration:" {
			break
		}
		if m := confTreeLine.FindStringSubmatch(line); m != nil {
			nodes = append(nodes, node{len(m[1]), confCase{Name: m[2], Status: confTreeStatus[m[3]]}})
		} else if len(nodes) > 0 {
			last := &nodes[len(nodes)-1].c
			last.Message = strings.TrimSpace(last.Message + "\n" + strings.TrimLeft(line, " -"))
		}
	}
	var leaves []confCase
	for i, n := range nodes {
		if i+1 < len(nodes) && nodes[i+1].indent > n.indent {
			continue
		}
		leaves = append(leaves, n.c)
	}
	return leaves
}

var confSummaryLine = regexp.MustCompile(`(?m)^  (Disabled|Skip|Pass|FAIL|Error|Total)\.*: +(\d+)$`)

func confSummaryCounts(stdout string) map[string]int {
	counts := map[string]int{}
	for _, m := range confSummaryLine.FindAllStringSubmatch(stdout, -1) {
		if _, seen := counts[m[1]]; !seen {
			counts[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	return counts
}

// Counts are leaf tests: passed, failed (failure or error) and skipped
// (skipped or disabled).
func (r *confResult) Counts() (passed, failed, skipped int) {
	for _, c := range r.Cases {
		switch c.Status {
		case "passed":
			passed++
		case "failure", "error":
			failed++
		default:
			skipped++
		}
	}
	return passed, failed, skipped
}

// CountLine is the stable one-line form of the counts.
func (r *confResult) CountLine() string {
	p, f, s := r.Counts()
	// Not "N passed, N failed": CI reads that shape as a test runner's total.
	return fmt.Sprintf("pass %d, fail %d, skip %d", p, f, s)
}

// Statuses maps each distinct test name to the sorted statuses of its
// occurrences: some names occur several times in one run.
func (r *confResult) Statuses() map[string][]string {
	m := map[string][]string{}
	for _, c := range r.Cases {
		m[c.Name] = append(m[c.Name], c.Status)
	}
	for _, s := range m {
		sort.Strings(s)
	}
	return m
}

// Passing is the set of distinct names whose every occurrence passed.
func (r *confResult) Passing() map[string]bool {
	set := map[string]bool{}
	for name, sts := range r.Statuses() {
		all := true
		for _, s := range sts {
			all = all && s == "passed"
		}
		set[name] = all
	}
	for name, ok := range set {
		if !ok {
			delete(set, name)
		}
	}
	return set
}

// Explain says why a test did not pass in this run: status and message,
// and with trace the end of the suite's request/response dump.
func (r *confResult) Explain(name string, trace bool) string {
	var b strings.Builder
	for _, c := range r.Cases {
		if c.Name != name || c.Status == "passed" {
			continue
		}
		fmt.Fprintf(&b, "    %s: %s\n", c.Status, confIndent(c.Message, "      "))
		if trace && c.Trace != "" {
			fmt.Fprintf(&b, "      trace:\n        %s\n", confIndent(confTail(c.Trace, 60), "        "))
		}
		break
	}
	return b.String()
}

// confTracedDiffs is how many differences requireSamePassing shows with
// the request/response dump; the rest get their message only.
const confTracedDiffs = 3

// confDiff lists the tests that pass in want but not in got, and those
// that pass in got but not in want, sorted.
func confDiff(want, got *confResult) (lost, gained []string) {
	wp, gp := want.Passing(), got.Passing()
	for n := range wp {
		if !gp[n] {
			lost = append(lost, n)
		}
	}
	for n := range gp {
		if !wp[n] {
			gained = append(gained, n)
		}
	}
	sort.Strings(lost)
	sort.Strings(gained)
	return lost, gained
}

// requireSamePassing fails unless both runs pass exactly the same distinct
// tests; the message names every difference and why the losing run failed.
// With subset, gained tests are only logged.
func requireSamePassing(t testing.TB, direct, gw *confResult, subset bool) {
	t.Helper()
	lost, gained := confDiff(direct, gw)
	var b strings.Builder
	for i, n := range lost {
		fmt.Fprintf(&b, "  passes %s, not %s: %s %v\n%s", direct.Label, gw.Label, n, gw.Statuses()[n], gw.Explain(n, i < confTracedDiffs))
	}
	for i, n := range gained {
		fmt.Fprintf(&b, "  passes %s, not %s: %s %v\n%s", gw.Label, direct.Label, n, direct.Statuses()[n], direct.Explain(n, i < confTracedDiffs))
	}
	if b.Len() == 0 {
		return
	}
	if subset && len(lost) == 0 {
		t.Logf("%s passes more than %s:\n%s", gw.Label, direct.Label, b.String())
		return
	}
	t.Errorf("conformance: %s and %s differ (%d lost, %d gained):\n%s",
		direct.Label, gw.Label, len(lost), len(gained), b.String())
}

// requireJunit fails unless every run wrote junit.xml: a run that does not
// (the suite cannot write its YAML report for some settings) is compared
// by its printed report, which does not carry the request traces.
func requireJunit(t testing.TB, runs ...*confResult) {
	t.Helper()
	for _, r := range runs {
		require.True(t, r.Junit, "%s wrote no junit.xml (exit %d):\n%s", r.Label, r.Exit, confTail(r.Stderr, 20))
	}
}

// requireSaneDirect guards the comparison against two runs that fail alike
// for a reason of the test setup (nothing listening, wrong login): the
// direct run must have reached the registry and passed most tests.
func requireSaneDirect(t testing.TB, r *confResult, minPassed int) {
	t.Helper()
	p, _, _ := r.Counts()
	require.GreaterOrEqual(t, p, minPassed, "%s passed too few tests; first failures:\n%s", r.Label, r.firstFailures(5))
}

func (r *confResult) firstFailures(n int) string {
	var b strings.Builder
	for _, c := range r.Cases {
		if c.Status == "failure" || c.Status == "error" {
			fmt.Fprintf(&b, "  %s: %s\n", c.Name, confFirstLine(c.Message))
			if n--; n == 0 {
				break
			}
		}
	}
	return b.String()
}

// reportConformance logs one stable summary line ("conformance LABEL: pass
// N, fail N, skip N"), prints it on stdout (seen with -v), and
// appends it to the file named by $ROBOTGATE_CONFORMANCE_SUMMARY, which CI
// prints after `go test` whatever the verbosity.
func reportConformance(t testing.TB, format string, args ...any) {
	t.Helper()
	line := "conformance " + fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(line)
	path := os.Getenv(confSummaryEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("%s: %v", confSummaryEnv, err)
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, line)
}

// reportRun reports a run's leaf counts under "conformance LABEL:".
func reportRun(t testing.TB, r *confResult) {
	t.Helper()
	src := "junit"
	if !r.Junit {
		src = "printed report"
	}
	m := r.Summary
	t.Logf("%s: ran %.1fs, exit %d (panicked %v), leaf counts from %s; suite summary Pass %d, FAIL %d, Error %d, Skip %d, Disabled %d, Total %d",
		r.Label, r.Elapsed.Seconds(), r.Exit, r.Panicked, src, m["Pass"], m["FAIL"], m["Error"], m["Skip"], m["Disabled"], m["Total"])
	reportConformance(t, "%s: %s", r.Label, r.CountLine())
}

// confAudit is the part of the gateway's audit line (SPEC section 5) the
// conformance tests look at.
type confAudit struct {
	Msg      string `json:"msg"`
	Account  string `json:"account"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Action   string `json:"action"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	Status   int    `json:"status"`
}

func (a confAudit) String() string {
	return fmt.Sprintf("%s %s %s -> %d (%s %s: %s)", a.Account, a.Method, a.Path, a.Status, a.Action, a.Decision, a.Reason)
}

// confAuditLines are the request lines of the gateway's log so far.
func confAuditLines(g *Gateway) []confAudit {
	var out []confAudit
	for _, line := range strings.Split(g.Stderr(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var a confAudit
		if json.Unmarshal([]byte(line), &a) == nil && a.Msg == "request" {
			out = append(out, a)
		}
	}
	return out
}

// confROContent is what read-only mode reads: the tags, the manifest
// digest and the blob digests of one small OCI image.
type confROContent struct {
	Tags      []string
	Manifests []string
	Blobs     []string
}

// pushReadOnlyContent pushes one small OCI image (always the same bytes, so
// the same digests wherever it goes) to host/repo as tags ro1 and ro2.
func pushReadOnlyContent(t testing.TB, host, repo, user, pass string) confROContent {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte("robotgate read-only conformance content\n")
	require.NoError(t, tw.WriteHeader(&tar.Header{
		Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX,
	}))
	_, err := tw.Write(body)
	require.NoError(t, err)
	require.NoError(t, tw.Close())

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, static.NewLayer(tb.Bytes(), types.OCILayer))
	require.NoError(t, err)

	opts := []remote.Option{remote.WithAuth(authn.Anonymous)}
	if user != "" {
		opts = []remote.Option{remote.WithAuth(&authn.Basic{Username: user, Password: pass})}
	}
	c := confROContent{Tags: []string{"ro1", "ro2"}}
	for _, tag := range c.Tags {
		ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img, opts...), "push %s", ref)
	}
	d, err := img.Digest()
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	c.Manifests = []string{d.String()}
	c.Blobs = []string{m.Config.Digest.String()}
	for _, l := range m.Layers {
		c.Blobs = append(c.Blobs, l.Digest.String())
	}
	return c
}

func confTail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = append([]string{"..."}, ls[len(ls)-lines:]...)
	}
	return strings.Join(ls, "\n")
}

func confIndent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

func confFirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
