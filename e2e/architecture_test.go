package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/robotgate/robotgate"

// TestDependencyDirection keeps the data flow one way (STYLE.md): policy is
// pure (no net/http, nothing of ours), and nothing in policy, accounts or
// config reaches back into proxy or cmd.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "../policy", "../accounts", "../config", "../proxy").Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
			Deps       []string
		}
		require.NoError(t, dec.Decode(&p))
		seen++
		for _, d := range p.Deps {
			switch {
			case strings.HasPrefix(p.ImportPath, module+"/policy"):
				assert.False(t, strings.HasPrefix(d, "net/http") || strings.Contains(d, "."), "policy must stay pure, imports %s", d)
			case p.ImportPath == module+"/proxy":
				assert.False(t, strings.HasPrefix(d, module+"/cmd"), "proxy imports %s", d)
			default:
				assert.False(t, strings.HasPrefix(d, module+"/proxy") || strings.HasPrefix(d, module+"/cmd"), "%s imports %s", p.ImportPath, d)
			}
		}
		if p.ImportPath == module+"/accounts" {
			assert.NotContains(t, p.Imports, "net/http", "accounts decides nothing about HTTP")
		}
	}
	assert.Equal(t, 4, seen)
}
