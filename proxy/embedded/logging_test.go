package embedded

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLogsRoutedToZapAtWarnAndAbove(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	reg, err := Start(t.Context(), Options{DataDir: t.TempDir(), Logger: zap.New(core)})
	require.NoError(t, err)

	push(t, reg, "team-a/app:v1") // many info lines inside distribution
	status, _, _ := do(t, reg, http.MethodGet, "/v2/team-a/app/manifests/missing", nil)
	require.Equal(t, http.StatusNotFound, status)
	logrus.WithField("answer", 42).WithError(errors.New("boom")).Warn("direct warn")
	logrus.Info("direct info")

	for _, e := range logs.All() {
		if e.Message == "response completed with error" {
			continue // client errors: debug, checked below
		}
		assert.GreaterOrEqual(t, e.Level, zapcore.WarnLevel, "%s", e.Message)
	}
	failed := logs.FilterMessage("response completed with error").All()
	require.NotEmpty(t, failed)
	assert.Equal(t, zapcore.DebugLevel, failed[0].Level, "a 404 is the client's miss, not a registry error")
	assert.Contains(t, failed[0].ContextMap(), "err.code")

	warned := logs.FilterMessage("direct warn").All()
	require.Len(t, warned, 1)
	assert.Equal(t, map[string]any{"answer": int64(42), "error": "boom"}, warned[0].ContextMap())
	assert.Empty(t, logs.FilterMessage("direct info").All())

	require.NoError(t, reg.Close(context.Background()))
	logrus.Warn("after close")
	assert.Empty(t, logs.FilterMessage("after close").All(), "hook removed on Close")
	for _, h := range logrus.StandardLogger().Hooks[logrus.WarnLevel] {
		_, ours := h.(*zapHook)
		assert.False(t, ours, "zapHook left installed")
	}
}

// quietEnv makes the test binary run quietChild instead of a test.
const quietEnv = "EMBEDDED_QUIET_CHILD"

// TestNothingOnStdout runs a registry in a child process and checks that
// pushing, failing requests and closing print nothing on stdout or stderr.
// A child is needed because logrus keeps its own reference to os.Stderr.
func TestNothingOnStdout(t *testing.T) {
	if os.Getenv(quietEnv) != "" {
		quietChild(t)
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestNothingOnStdout$", "-test.count=1")
	cmd.Env = append(os.Environ(), quietEnv+"=1", "TMPDIR="+t.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stdout: %s\nstderr: %s", &stdout, &stderr)
	assert.Equal(t, "PASS", strings.TrimSpace(stdout.String()))
	assert.Empty(t, stderr.String())
}

// quietChild does the noisy work inside the child process.
func quietChild(t *testing.T) {
	reg, err := Start(t.Context(), Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	push(t, reg, "team-a/app:v1")
	pulledDigest(t, reg, "team-a/app:v1")
	status, _, _ := do(t, reg, http.MethodGet, "/v2/team-a/app/manifests/missing", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.NoError(t, reg.Close(t.Context()))
	assert.Equal(t, io.Discard, logrus.StandardLogger().Out)
}

// TestClientErrorsAreNotRegistryErrors: a 404 answer that distribution
// logs at error level is a client's miss, logged at debug; a 500 stays an
// error.
func TestClientErrorsAreNotRegistryErrors(t *testing.T) {
	miss := &logrus.Entry{Level: logrus.ErrorLevel, Data: logrus.Fields{"http.response.status": 404}}
	assert.Equal(t, zapcore.DebugLevel, entryLevel(miss))
	fault := &logrus.Entry{Level: logrus.ErrorLevel, Data: logrus.Fields{"http.response.status": 500}}
	assert.Equal(t, zapcore.ErrorLevel, entryLevel(fault))
	plain := &logrus.Entry{Level: logrus.WarnLevel, Data: logrus.Fields{}}
	assert.Equal(t, zapcore.WarnLevel, entryLevel(plain))
}
