package accounts

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestStoreLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"), acct(t, "deploy", "Passw0rd"))
	s := NewStore(path, testPrefix, nil)
	assert.Equal(t, 0, s.Current().Len(), "before Load: an empty list, never nil")

	require.NoError(t, s.Load())
	assert.Equal(t, []string{"tcr$ci-bot", "tcr$deploy"}, names(s.Current().All()))
	assert.Equal(t, path, s.Path())
	assert.Equal(t, testPrefix, s.Prefix())
}

func TestStoreLoadFails(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte("[[account]]\nname = \"ci-bot\"\n"), FileMode))
	tests := []struct {
		name string
		path string
	}{
		{"invalid file", bad},
		{"missing file", filepath.Join(dir, "missing.toml")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(tt.path, testPrefix, nil)
			require.Error(t, s.Load())
			assert.Equal(t, 0, s.Current().Len())
		})
	}
}

// Every way an account file gets replaced in practice.
func TestStoreReloadPicksUpChanges(t *testing.T) {
	v1 := []*Account{acct(t, "ci-bot", "Passw0rd")}
	v2 := []*Account{acct(t, "ci-bot", "Passw0rd"), acct(t, "deploy", "Passw0rd")}
	tests := []struct {
		name string
		// setup writes v1 and returns the path the store reads; change
		// replaces the content with v2.
		setup  func(t *testing.T, dir string) string
		change func(t *testing.T, dir string)
	}{
		{
			name: "write in place",
			setup: func(t *testing.T, dir string) string {
				writeAccounts(t, filepath.Join(dir, "accounts.toml"), v1...)
				return filepath.Join(dir, "accounts.toml")
			},
			change: func(t *testing.T, dir string) {
				f, err := os.OpenFile(filepath.Join(dir, "accounts.toml"), os.O_WRONLY|os.O_TRUNC, 0)
				require.NoError(t, err)
				_, err = f.Write(Encode(v2))
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
		},
		{
			name: "rename over the file",
			setup: func(t *testing.T, dir string) string {
				writeAccounts(t, filepath.Join(dir, "accounts.toml"), v1...)
				return filepath.Join(dir, "accounts.toml")
			},
			change: func(t *testing.T, dir string) {
				writeAccounts(t, filepath.Join(dir, ".accounts.toml.new"), v2...)
				require.NoError(t, os.Rename(filepath.Join(dir, ".accounts.toml.new"), filepath.Join(dir, "accounts.toml")))
			},
		},
		{
			name: "Kubernetes ..data symlink swap",
			setup: func(t *testing.T, dir string) string {
				require.NoError(t, os.Mkdir(filepath.Join(dir, "..2026_12_03_10_00_00.1"), 0o755))
				writeAccounts(t, filepath.Join(dir, "..2026_12_03_10_00_00.1", "accounts.toml"), v1...)
				require.NoError(t, os.Symlink("..2026_12_03_10_00_00.1", filepath.Join(dir, "..data")))
				require.NoError(t, os.Symlink(filepath.Join("..data", "accounts.toml"), filepath.Join(dir, "accounts.toml")))
				return filepath.Join(dir, "accounts.toml")
			},
			change: func(t *testing.T, dir string) {
				// What the kubelet does: a new timestamped dir, a new link
				// beside ..data, renamed over it in one step.
				require.NoError(t, os.Mkdir(filepath.Join(dir, "..2026_12_03_10_05_00.2"), 0o755))
				writeAccounts(t, filepath.Join(dir, "..2026_12_03_10_05_00.2", "accounts.toml"), v2...)
				require.NoError(t, os.Symlink("..2026_12_03_10_05_00.2", filepath.Join(dir, "..data_tmp")))
				require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
				require.NoError(t, os.RemoveAll(filepath.Join(dir, "..2026_12_03_10_00_00.1")))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := NewStore(tt.setup(t, dir), testPrefix, nil)
			require.NoError(t, s.Load())
			require.Equal(t, 1, s.Current().Len())

			changed, err := s.Reload()
			require.NoError(t, err)
			assert.False(t, changed, "nothing changed yet")

			tt.change(t, dir)
			changed, err = s.Reload()
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, []string{"tcr$ci-bot", "tcr$deploy"}, names(s.Current().All()))
		})
	}
}

// A same-size write within one mtime tick looks unchanged to stat; the
// periodic content hash still finds it.
func TestStoreReloadFindsSameSizeSameMtimeWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	a := acct(t, "ci-bot", "Passw0rd")
	a.Disabled = false
	a.Description = "aaaa"
	writeAccounts(t, path, a)
	st, err := os.Stat(path)
	require.NoError(t, err)
	s := NewStore(path, testPrefix, nil)
	require.NoError(t, s.Load())

	b := a.clone()
	b.Description = "bbbb"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	_, err = f.Write(Encode([]*Account{b}))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(path, st.ModTime(), st.ModTime()))

	for i := 0; i < rehashEvery && s.Current().All()[0].Description != "bbbb"; i++ {
		_, err := s.Reload()
		require.NoError(t, err)
	}
	assert.Equal(t, "bbbb", s.Current().All()[0].Description)
}

func TestStoreKeepsLastGoodListOnInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"))
	s := NewStore(path, testPrefix, nil)
	require.NoError(t, s.Load())
	good := s.Current()

	// One good account and one bad: the whole file is refused.
	bad := append(Encode([]*Account{acct(t, "ci-bot", "Passw0rd"), acct(t, "deploy", "Passw0rd")}), "\n[[account]]\nname = \"NoPrefix\"\n"...)
	require.NoError(t, os.WriteFile(path, bad, FileMode))
	changed, err := s.Reload()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidFile)
	assert.Contains(t, err.Error(), path+":")
	assert.False(t, changed)
	assert.Same(t, good, s.Current(), "the last good list stays in force")

	changed, err = s.Reload()
	require.NoError(t, err, "the same refused content is not re-reported on every poll")
	assert.False(t, changed)
	assert.Same(t, good, s.Current())

	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"), acct(t, "deploy", "Passw0rd"))
	changed, err = s.Reload()
	require.NoError(t, err)
	assert.True(t, changed, "the next valid edit is picked up")
	assert.Equal(t, 2, s.Current().Len())
}

func TestStoreKeepsListWhenFileDisappears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"))
	s := NewStore(path, testPrefix, nil)
	require.NoError(t, s.Load())
	good := s.Current()

	require.NoError(t, os.Remove(path))
	_, err := s.Reload()
	require.Error(t, err)
	assert.Same(t, good, s.Current())

	writeAccounts(t, path, acct(t, "deploy", "Passw0rd"))
	changed, err := s.Reload()
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, []string{"tcr$deploy"}, names(s.Current().All()))
}

func TestStoreLogsEachRefusedContentOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	good := writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"))
	core, logs := observer.New(zapcore.InfoLevel)
	s := NewStore(path, testPrefix, zap.New(core))
	require.NoError(t, s.Load())
	refusals := func() int { return logs.FilterMessage("account file refused; still serving the last good list").Len() }
	replace := func(data []byte) {
		tmp := path + ".new"
		require.NoError(t, os.WriteFile(tmp, data, FileMode))
		require.NoError(t, os.Rename(tmp, path))
	}
	bad := []byte("[[account]]\nname = \"NoPrefix\"\n")

	replace(bad)
	for range 2 * rehashEvery {
		_, _ = s.Reload()
	}
	require.Equal(t, 1, refusals(), "one log line for one bad content, however often it is polled")
	entry := logs.FilterMessage("account file refused; still serving the last good list").All()[0]
	assert.Equal(t, zapcore.ErrorLevel, entry.Level)
	assert.Contains(t, entry.ContextMap()["error"], path+":2:", "the log names file and line")
	assert.EqualValues(t, 1, entry.ContextMap()["accounts_in_force"])

	replace(good) // an operator reverts the file
	_, err := s.Reload()
	require.NoError(t, err)
	replace(bad) // and breaks it the same way again
	_, _ = s.Reload()
	assert.Equal(t, 2, refusals(), "breaking the file again is logged again")
}

func TestStoreWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"))
	s := NewStore(path, testPrefix, nil)
	require.NoError(t, s.Load())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Watch(ctx, DefaultPollInterval); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"), acct(t, "deploy", "Passw0rd"))
	assert.Eventually(t, func() bool {
		_, ok := s.Current().Get("tcr$deploy")
		return ok
	}, 2*time.Second, 20*time.Millisecond, "SPEC section 3: a change is seen within 2 seconds")

	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}
