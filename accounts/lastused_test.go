package accounts

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLastUsedFlushWritesStateFile(t *testing.T) {
	path := LastUsedPath(filepath.Join(t.TempDir(), "accounts.toml"))
	assert.Equal(t, "accounts.toml.lastused.json", filepath.Base(path), "a state file beside the account file, never in it")
	l := NewLastUsed(path)
	l.Touch("tcr$ci-bot", t0.Add(1500*time.Millisecond))
	l.Touch("tcr$ci-bot", t0) // an earlier login reported late does not win
	l.Touch("tcr$deploy", t0.Add(time.Hour).In(time.FixedZone("CET", 3600)))
	require.NoError(t, l.Flush())

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
	got, err := ReadLastUsed(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{
		"tcr$ci-bot": t0.Add(time.Second), // stored to the second, in UTC
		"tcr$deploy": t0.Add(time.Hour),
	}, got)
}

func TestLastUsedFlushMergesKeepingTheLaterTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml.lastused.json")
	// What another replica wrote.
	other := NewLastUsed(path)
	other.Touch("tcr$a", t0.Add(2*time.Hour))
	other.Touch("tcr$b", t0)
	other.Touch("tcr$c", t0)
	require.NoError(t, other.Flush())

	l := NewLastUsed(path)
	l.Touch("tcr$a", t0.Add(time.Hour)) // older than the file's
	l.Touch("tcr$b", t0.Add(time.Hour)) // newer than the file's
	l.Touch("tcr$d", t0)                // new
	require.NoError(t, l.Flush())

	got, err := ReadLastUsed(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{
		"tcr$a": t0.Add(2 * time.Hour),
		"tcr$b": t0.Add(time.Hour),
		"tcr$c": t0,
		"tcr$d": t0,
	}, got)
}

func TestLastUsedFlushWithNothingPendingWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, NewLastUsed(path).Flush())
	assert.NoFileExists(t, path)
}

func TestLastUsedFlushRebuildsDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, err := ReadLastUsed(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)

	l := NewLastUsed(path)
	l.Touch("tcr$a", t0)
	require.NoError(t, l.Flush())
	got, err := ReadLastUsed(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"tcr$a": t0}, got)
}

func TestLastUsedFlushFailureKeepsTimesPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	path := filepath.Join(dir, "state.json")
	l := NewLastUsed(path)
	l.Touch("tcr$a", t0)
	l.Touch("tcr$b", t0)
	require.Error(t, l.Flush(), "the directory does not exist")

	l.Touch("tcr$a", t0.Add(time.Minute)) // a login between the two flushes
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, l.Flush())

	got, err := ReadLastUsed(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"tcr$a": t0.Add(time.Minute), "tcr$b": t0}, got,
		"times from the failed flush are written by the next one")
}

func TestReadLastUsedMissingFileIsEmpty(t *testing.T) {
	got, err := ReadLastUsed(filepath.Join(t.TempDir(), "missing.json"))
	require.NoError(t, err)
	require.NotNil(t, got, "safe to index and to write to")
	assert.Empty(t, got)
}

func TestLastUsedRunFlushesWhenStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	l := NewLastUsed(path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, time.Hour, func(err error) { t.Errorf("flush: %v", err) }); close(done) }()
	l.Touch("tcr$a", t0)
	cancel()
	<-done
	got, err := ReadLastUsed(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"tcr$a": t0}, got, "the last times are written on shutdown")
}
