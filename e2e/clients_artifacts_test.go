package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClientOrasReferrer attaches an SBOM-like artifact to an image with
// oras attach and finds it again with oras discover. The embedded registry
// has no referrers API (404), so oras falls back to the referrers tag
// schema: the referrer is listed in an index tagged sha256-<hex of subject>.
func TestClientOrasReferrer(t *testing.T) {
	t.Parallel()
	clTimer(t)
	oras := clTool(t, "oras")
	f := clStart(t)
	ci := newClEnv(t)
	ci.must("", f.rwPass, oras, "login", "--plain-http", "-u", f.rwUser, "--password-stdin", f.g.Addr)

	work := filepath.Join(ci.Dir, "work")
	require.NoError(t, os.MkdirAll(work, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(work, "app.bin"), []byte("the subject\n"), 0o600))
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"robotgate-test"}` + "\n")
	require.NoError(t, os.WriteFile(filepath.Join(work, "sbom.spdx.json"), sbom, 0o600))

	subject := f.ref("team-a/oras/subject:v1")
	out := ci.must(work, "", oras, "push", "--plain-http", "--artifact-type", "application/vnd.example.app.v1", subject, "app.bin:application/octet-stream")
	subjectDigest := clFirstDigest(t, out, "Digest:")

	const sbomType = "application/spdx+json"
	out = ci.must(work, "", oras, "attach", "--plain-http", "--artifact-type", sbomType, subject, "sbom.spdx.json:application/spdx+json")
	referrer := clFirstDigest(t, out, "Digest:")

	out = ci.must("", "", oras, "discover", "--plain-http", "--format", "json", subject)
	var tree struct {
		Digest    string `json:"digest"`
		Referrers []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &tree), out)
	require.Equal(t, subjectDigest, tree.Digest)
	require.Len(t, tree.Referrers, 1, out)
	require.Equal(t, referrer, tree.Referrers[0].Digest)
	require.Equal(t, sbomType, tree.Referrers[0].ArtifactType)

	// The fallback is visible as a tag, and the referrer's manifest names
	// its subject.
	tags := ci.must("", "", oras, "repo", "tags", "--plain-http", f.ref("team-a/oras/subject"))
	require.Contains(t, tags, strings.Replace(subjectDigest, ":", "-", 1), "referrers tag schema")
	_, body := f.manifest(t, f.rwUser, f.rwPass, "team-a/oras/subject", referrer)
	var m struct {
		Subject struct{ Digest string } `json:"subject"`
	}
	require.NoError(t, json.Unmarshal(body, &m))
	require.Equal(t, subjectDigest, m.Subject.Digest)

	// The attached bytes come back.
	pulled := filepath.Join(ci.Dir, "pulled")
	ci.must("", "", oras, "pull", "--plain-http", "-o", pulled, f.ref("team-a/oras/subject@"+referrer))
	require.Equal(t, sbom, clReadFile(t, filepath.Join(pulled, "sbom.spdx.json")))

	// oras asked the referrers API first, through the gateway (pull), and
	// got the upstream's 404 passed through.
	found := false
	for _, l := range f.audit(t) {
		if strings.Contains(l.Path, "/referrers/") && l.Decision == "allow" && l.Action == "pull" {
			found = true
			require.Equal(t, 404, l.Status, "the embedded registry has no referrers API")
		}
	}
	require.True(t, found, "no referrers request in the audit log")
}

// TestClientOrasHelmChart pushes a Helm chart the way `helm push` lays it
// out (config application/vnd.cncf.helm.config.v1+json, one layer
// application/vnd.cncf.helm.chart.content.v1.tar+gzip) and pulls it back.
func TestClientOrasHelmChart(t *testing.T) {
	t.Parallel()
	clTimer(t)
	oras := clTool(t, "oras")
	f := clStart(t)
	ci := newClEnv(t)
	ci.must("", f.rwPass, oras, "login", "--plain-http", "-u", f.rwUser, "--password-stdin", f.g.Addr)

	const (
		helmConfig = "application/vnd.cncf.helm.config.v1+json"
		helmChart  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	)
	work := filepath.Join(ci.Dir, "work")
	require.NoError(t, os.MkdirAll(work, 0o700))
	chart := clHelmChart(t, "demo", "0.1.0")
	require.NoError(t, os.WriteFile(filepath.Join(work, "demo-0.1.0.tgz"), chart, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(work, "config.json"),
		[]byte(`{"name":"demo","version":"0.1.0","apiVersion":"v2","description":"robotgate test chart"}`), 0o600))

	ref := f.ref("team-a/charts/demo:0.1.0")
	out := ci.must(work, "", oras, "push", "--plain-http", "--config", "config.json:"+helmConfig, ref, "demo-0.1.0.tgz:"+helmChart)
	pushed := clFirstDigest(t, out, "Digest:")
	got, body := f.manifest(t, f.rwUser, f.rwPass, "team-a/charts/demo", "0.1.0")
	require.Equal(t, pushed, got)
	var m struct {
		Config struct{ MediaType string }   `json:"config"`
		Layers []struct{ MediaType string } `json:"layers"`
	}
	require.NoError(t, json.Unmarshal(body, &m))
	require.Equal(t, helmConfig, m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	require.Equal(t, helmChart, m.Layers[0].MediaType)

	pulled := filepath.Join(ci.Dir, "pulled")
	ci.must("", "", oras, "pull", "--plain-http", "-o", pulled, ref)
	require.Equal(t, chart, clReadFile(t, filepath.Join(pulled, "demo-0.1.0.tgz")), "chart bytes pulled = pushed")

	cfg := ci.must("", "", oras, "manifest", "fetch-config", "--plain-http", ref)
	require.Contains(t, cfg, `"name":"demo"`)
}

// clHelmChart builds a minimal chart archive (NAME/Chart.yaml and a
// template) with some random bytes so its digest is new.
func clHelmChart(t testing.TB, chartName, version string) []byte {
	t.Helper()
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	files := []struct{ name, body string }{
		{chartName + "/Chart.yaml", "apiVersion: v2\nname: " + chartName + "\nversion: " + version + "\n"},
		{chartName + "/values.yaml", "salt: \"" + hex.EncodeToString(salt) + "\"\n"},
		{chartName + "/templates/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"},
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, fl := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: fl.name, Mode: 0o644, Size: int64(len(fl.body)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(fl.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
