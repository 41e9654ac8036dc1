package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// clReadmeSnippets reads the README's client examples: each fenced sh
// block right after a "<!-- snippet: NAME -->" line, run here through bash
// exactly as written. They get REGISTRY (host:port of the gateway),
// TCR_PASSWORD (tcr$ci's password) and IMAGE (a local image, for docker and
// podman) from the environment, and image.tar (docker save format) and
// notes.txt in the working directory.
func clReadmeSnippets(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	re := regexp.MustCompile("(?s)<!-- snippet: ([A-Za-z]+) -->\n```sh\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = m[2]
	}
	for _, want := range []string{"docker", "podman", "skopeo", "crane", "oras", "regctl", "imagePullSecret"} {
		require.Contains(t, out, want, "README has no snippet %q", want)
	}
	return out
}

// TestClientReadmeSnippets runs every README example through bash against
// a gateway and checks what each one left behind. It also shows the
// quoting pitfall: in double quotes, "tcr$ci" is "tcr" and the login fails.
func TestClientReadmeSnippets(t *testing.T) {
	t.Parallel()
	clTimer(t)
	bash := clTool(t, "bash")
	f := clStart(t)
	snippets := clReadmeSnippets(t)

	// snippet runs one example in a fresh client env; prepare may add a
	// local image and environment variables first.
	snippet := func(t *testing.T, client string, prepare func(e *clEnv, work string) []string) (e *clEnv, work string) {
		t.Helper()
		e = newClEnv(t)
		work = filepath.Join(e.Dir, "work")
		clMakeImage(t, work, 64<<10, nil)
		require.NoError(t, os.WriteFile(filepath.Join(work, "notes.txt"), []byte("release notes\n"), 0o600))
		env := []string{"REGISTRY=" + f.g.Addr, "TCR_PASSWORD=" + f.rwPass}
		if prepare != nil {
			env = append(env, prepare(e, work)...)
		}
		e.env = append(e.env, env...)
		e.must(work, "", bash, "-c", "set -euo pipefail\n"+snippets[client])
		return e, work
	}
	pushed := func(t *testing.T, repo string) {
		t.Helper()
		f.manifest(t, f.rwUser, f.rwPass, repo, "v1")
	}

	t.Run("docker", func(t *testing.T) {
		docker := clTool(t, "docker")
		image := "robotgate-e2e/readme-" + strings.ReplaceAll(f.g.Addr, ":", "-") + ":local"
		t.Cleanup(func() { newClEnv(t).run("", "", docker, "rmi", "-f", image, f.ref("team-a/app:v1")) })
		snippet(t, "docker", func(e *clEnv, work string) []string {
			e.must("", "", docker, "import", filepath.Join(work, "layer.tar"), image)
			return []string{"IMAGE=" + image}
		})
		pushed(t, "team-a/app")
	})
	t.Run("podman", func(t *testing.T) {
		podman := clTool(t, "podman")
		snippet(t, "podman", func(e *clEnv, work string) []string {
			e.must("", "", podman, "import", filepath.Join(work, "layer.tar"), "localhost/app:local")
			return []string{"IMAGE=localhost/app:local"}
		})
		pushed(t, "team-a/app")
	})
	t.Run("skopeo", func(t *testing.T) {
		clTool(t, "skopeo")
		_, work := snippet(t, "skopeo", nil)
		require.FileExists(t, filepath.Join(work, "app", "manifest.json"))
	})
	t.Run("crane", func(t *testing.T) {
		clTool(t, "crane")
		_, work := snippet(t, "crane", nil)
		require.FileExists(t, filepath.Join(work, "app.tar"))
	})
	t.Run("oras", func(t *testing.T) {
		clTool(t, "oras")
		_, work := snippet(t, "oras", nil)
		require.Equal(t, "release notes\n", string(clReadFile(t, filepath.Join(work, "pulled", "notes.txt"))))
	})
	t.Run("regctl", func(t *testing.T) {
		clTool(t, "regctl")
		_, work := snippet(t, "regctl", nil)
		require.FileExists(t, filepath.Join(work, "app.tar"))
	})

	t.Run("imagePullSecret", func(t *testing.T) {
		crane, skopeo := clTool(t, "crane"), clTool(t, "skopeo")
		_, work := snippet(t, "imagePullSecret", nil)
		// Decode the Secret as the kubelet does and use its
		// .dockerconfigjson as a client's only credentials.
		yaml := string(clReadFile(t, filepath.Join(work, "secret.yaml")))
		require.Contains(t, yaml, "type: kubernetes.io/dockerconfigjson")
		m := regexp.MustCompile(`(?m)^  \.dockerconfigjson: (\S+)$`).FindStringSubmatch(yaml)
		require.Len(t, m, 2, yaml)
		cfg, err := base64.StdEncoding.DecodeString(m[1])
		require.NoError(t, err)
		var dc struct {
			Auths map[string]struct{ Auth string } `json:"auths"`
		}
		require.NoError(t, json.Unmarshal(cfg, &dc), string(cfg))
		auth, err := base64.StdEncoding.DecodeString(dc.Auths[f.g.Addr].Auth)
		require.NoError(t, err)
		require.Equal(t, "tcr$ci:"+f.rwPass, string(auth), "the $ survived the shell")

		puller := newClEnv(t)
		require.NoError(t, os.WriteFile(filepath.Join(puller.Dir, "docker", "config.json"), cfg, 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(puller.Dir, "auth.json"), cfg, 0o600))
		ref := f.ref("team-a/secret/app:v1")
		puller.must("", "", crane, "push", filepath.Join(work, "image.tar"), ref)
		got, _ := f.manifest(t, f.rwUser, f.rwPass, "team-a/secret/app", "v1")
		require.Equal(t, got, puller.stdout("", "", crane, "digest", ref))
		out := puller.must("", "", skopeo, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+ref)
		require.Contains(t, out, got)
	})

	t.Run("double quotes lose the $", func(t *testing.T) {
		skopeo := clTool(t, "skopeo")
		e := newClEnv(t)
		e.env = append(e.env, "REGISTRY="+f.g.Addr, "TCR_PASSWORD="+f.rwPass)
		out := e.refused("", "", bash, "-c", `printf '%s\n' "$TCR_PASSWORD" | `+skopeo+` login --tls-verify=false -u "tcr$ci" --password-stdin "$REGISTRY"`)
		require.Contains(t, out, "invalid username/password")
	})
}
