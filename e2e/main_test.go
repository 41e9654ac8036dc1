package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// robotgateBin is the binary built once for all tests.
var robotgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "robotgate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	robotgateBin = filepath.Join(dir, "robotgate")
	build := exec.Command("go", "build", "-o", robotgateBin, "../cmd/robotgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build robotgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
