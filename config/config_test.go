package config

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, "robotgate.toml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// exampleLike is config.example.toml with every value changed from its
// default, so a key that is not decoded shows.
const exampleLike = `# robotgate configuration
[server]
listen = "127.0.0.1:5443"   # gateway address
realm = "registry.example"
tls_cert_file = "tls/cert.pem"
tls_key_file = "/etc/robotgate/key.pem"
shutdown_timeout = "45s"

[upstream]
url = "https://registry.internal:5000"
data_dir = "store"
username = "gateway"
password_file = "secrets/upstream"
ca_file = "ca.pem"
insecure_skip_verify = true
follow_redirects = true

[accounts]
file = "state/accounts.toml"
prefix = "robot$"
cache_size = 128
warn_before = "72h"

[public]
namespaces = ["library", "lib-*"]

[log]
level = "debug"
format = "console"
`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, exampleLike)
	cfg, err := Load(path, false)
	require.NoError(t, err)
	assert.Equal(t, &Config{
		Server: Server{
			Listen: "127.0.0.1:5443", Realm: "registry.example",
			TLSCertFile: filepath.Join(dir, "tls/cert.pem"), TLSKeyFile: "/etc/robotgate/key.pem",
			ShutdownTimeout: Duration{45 * time.Second},
		},
		Upstream: Upstream{
			URL: "https://registry.internal:5000", DataDir: "store", Username: "gateway",
			PasswordFile: filepath.Join(dir, "secrets/upstream"), CAFile: filepath.Join(dir, "ca.pem"),
			InsecureSkipVerify: true, FollowRedirects: true,
		},
		Accounts: Accounts{File: filepath.Join(dir, "state/accounts.toml"), Prefix: "robot$", CacheSize: 128, WarnBefore: Duration{72 * time.Hour}},
		Public:   Public{Namespaces: []string{"library", "lib-*"}},
		Log:      Log{Level: "debug", Format: "console"},
		Path:     path,
	}, cfg)
	assert.True(t, cfg.Server.TLS())
}

func TestLoadKeepsDefaultsForAbsentKeys(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeConfig(t, dir, "[server]\nlisten = \":6000\"\n"), false)
	require.NoError(t, err)
	want := Default()
	want.Server.Listen = ":6000"
	want.Upstream.DataDir = filepath.Join(dir, DefaultDataDir)
	want.Accounts.File = filepath.Join(dir, DefaultAccountsFile)
	want.Path = filepath.Join(dir, "robotgate.toml")
	assert.Equal(t, want, cfg)
	assert.False(t, cfg.Server.TLS())
}

// The shipped example documents every key (SPEC section 2) with its
// default value.
func TestExampleFileDocumentsEveryKeyWithItsDefault(t *testing.T) {
	path := filepath.Join("..", "config.example.toml")
	_, err := os.Stat(path)
	require.NoError(t, err, "config.example.toml must exist")
	cfg, err := Load(path, false)
	require.NoError(t, err, "the example loads strictly")
	require.NoError(t, cfg.Validate())
	want := Default()
	want.resolve(filepath.Dir(path))
	want.Path = path
	if len(cfg.Public.Namespaces) == 0 {
		cfg.Public.Namespaces = nil
	}
	assert.Equal(t, want, cfg, "every value in the example is the default")

	var doc map[string]map[string]any
	_, err = toml.DecodeFile(path, &doc)
	require.NoError(t, err)
	var inFile []string
	for table, keys := range doc {
		for k := range keys {
			inFile = append(inFile, table+"."+k)
		}
	}
	sort.Strings(inFile)
	assert.Equal(t, configKeys(reflect.TypeOf(Config{})), inFile, "the example shows every key")
}

// configKeys lists the dotted keys of the config struct.
func configKeys(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		table := typ.Field(i)
		name := table.Tag.Get("toml")
		if name == "" || name == "-" {
			continue
		}
		for j := range table.Type.NumField() {
			out = append(out, name+"."+table.Type.Field(j).Tag.Get("toml"))
		}
	}
	sort.Strings(out)
	return out
}

func TestLoadMissingFile(t *testing.T) {
	t.Run("default file missing: built-in defaults", func(t *testing.T) {
		t.Chdir(t.TempDir())
		cfg, err := Load(DefaultFile, true)
		require.NoError(t, err)
		assert.Equal(t, Default(), cfg)
		assert.Empty(t, cfg.Path, "no file")
		assert.Equal(t, "accounts.toml", cfg.Accounts.File, "relative to the working directory")
		assert.NoError(t, cfg.Validate())
	})
	t.Run("default file present: it is read", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		writeConfig(t, dir, "[log]\nlevel = \"warn\"\n")
		cfg, err := Load(DefaultFile, true)
		require.NoError(t, err)
		assert.Equal(t, "warn", cfg.Log.Level)
		assert.Equal(t, DefaultFile, cfg.Path)
	})
	t.Run("explicit file missing: error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "robotgate.toml")
		cfg, err := Load(path, false)
		require.Error(t, err)
		assert.Nil(t, cfg)
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.Contains(t, err.Error(), path)
	})
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // every one must be in the error
		unknown bool     // errors.Is ErrUnknownKey
	}{
		{
			name:    "unknown key in a table",
			content: "[server]\nlisten = \":5000\"\nlistn = \":6000\"\n",
			want:    []string{`robotgate.toml:3: unknown key "server.listn"`},
			unknown: true,
		},
		{
			name:    "unknown key in the second table",
			content: "[server]\nlisten = \":5000\"\n\n[accounts]\nfile = \"a.toml\"\ncache = 10\n",
			want:    []string{`robotgate.toml:6: unknown key "accounts.cache"`},
			unknown: true,
		},
		{
			name:    "unknown top-level key",
			content: "debug = true\n[server]\n",
			want:    []string{`robotgate.toml:1: unknown key "debug"`},
			unknown: true,
		},
		{
			name:    "unknown table",
			content: "[server]\n[metrics]\nlisten = \":9090\"\n",
			want:    []string{`robotgate.toml:2: unknown key "metrics"`, `robotgate.toml:3: unknown key "metrics.listen"`},
			unknown: true,
		},
		{
			name:    "key with a comment after it",
			content: "[log]\nlevel = \"info\"\nformt = \"json\" # typo\n",
			want:    []string{`robotgate.toml:3: unknown key "log.formt"`},
			unknown: true,
		},
		{
			name:    "every unknown key",
			content: "[server]\nlistn = \":1\"\n[log]\nlvl = \"info\"\n",
			want:    []string{`robotgate.toml:2: unknown key "server.listn"`, `robotgate.toml:4: unknown key "log.lvl"`},
			unknown: true,
		},
		{
			name:    "bad duration",
			content: "[server]\nlisten = \":5000\"\nshutdown_timeout = \"30\"\n",
			want:    []string{"robotgate.toml:3:", "server.shutdown_timeout", `not a duration`, `"30"`},
		},
		{
			name:    "bad duration in accounts",
			content: "[accounts]\nwarn_before = \"a week\"\n",
			want:    []string{"robotgate.toml:2:", "accounts.warn_before", "not a duration"},
		},
		{
			name:    "wrong type",
			content: "[accounts]\ncache_size = \"big\"\n",
			want:    []string{"robotgate.toml", "line 2", "accounts.cache_size"},
		},
		{
			name:    "bad syntax",
			content: "[server]\nlisten = \":5000\"\nrealm = \n",
			want:    []string{"robotgate.toml:3:", "expected value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, t.TempDir(), tt.content), false)
			require.Error(t, err)
			assert.Nil(t, cfg)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			if tt.unknown {
				assert.ErrorIs(t, err, ErrUnknownKey)
			} else {
				assert.NotErrorIs(t, err, ErrUnknownKey)
			}
		})
	}
}

// A syntax error names its line, not the key that happened to come before.
func TestLoadSyntaxErrorDoesNotBlameAKey(t *testing.T) {
	_, err := Load(writeConfig(t, t.TempDir(), "[server]\nlisten = \":5000\"\nfoo bar\n"), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "robotgate.toml:3:")
	assert.NotContains(t, err.Error(), "server.listen")
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	content := `[server]
tls_cert_file = "tls/cert.pem"
tls_key_file = "../outside/key.pem"
[upstream]
data_dir = "data"
password_file = "pw"
ca_file = "/abs/ca.pem"
[accounts]
file = "accounts.toml"
`
	t.Chdir(t.TempDir()) // the working directory must not matter
	cfg, err := Load(writeConfig(t, dir, content), false)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "tls", "cert.pem"), cfg.Server.TLSCertFile)
	assert.Equal(t, filepath.Join(filepath.Dir(dir), "outside", "key.pem"), cfg.Server.TLSKeyFile)
	assert.Equal(t, filepath.Join(dir, "data"), cfg.Upstream.DataDir)
	assert.Equal(t, filepath.Join(dir, "pw"), cfg.Upstream.PasswordFile)
	assert.Equal(t, "/abs/ca.pem", cfg.Upstream.CAFile, "absolute paths stay")
	assert.Equal(t, filepath.Join(dir, "accounts.toml"), cfg.Accounts.File)
}

func TestLoadRelativeConfigPath(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "etc"), 0o755))
	writeConfig(t, filepath.Join(dir, "etc"), "[accounts]\nfile = \"accounts.toml\"\n")
	t.Chdir(dir)
	cfg, err := Load(filepath.Join("etc", "robotgate.toml"), false)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("etc", "accounts.toml"), cfg.Accounts.File)
}

func TestUpstreamPassword(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	unset := func(t *testing.T) {
		t.Setenv(UpstreamPasswordEnv, "") // restored after the test
		require.NoError(t, os.Unsetenv(UpstreamPasswordEnv))
	}

	t.Run("env wins over the file", func(t *testing.T) {
		t.Setenv(UpstreamPasswordEnv, "from-env")
		got, err := Upstream{PasswordFile: file("from-file\n")}.UpstreamPassword()
		require.NoError(t, err)
		assert.Equal(t, "from-env", got)
	})
	t.Run("env wins over a missing file", func(t *testing.T) {
		t.Setenv(UpstreamPasswordEnv, "from-env")
		got, err := Upstream{PasswordFile: filepath.Join(dir, "missing")}.UpstreamPassword()
		require.NoError(t, err)
		assert.Equal(t, "from-env", got)
	})
	t.Run("file with trailing newline", func(t *testing.T) {
		unset(t)
		got, err := Upstream{PasswordFile: file("s3cret \n")}.UpstreamPassword()
		require.NoError(t, err)
		assert.Equal(t, "s3cret ", got, "only the line ending goes")
	})
	t.Run("file with CRLF and several newlines", func(t *testing.T) {
		unset(t)
		got, err := Upstream{PasswordFile: file("s3cret\r\n\n")}.UpstreamPassword()
		require.NoError(t, err)
		assert.Equal(t, "s3cret", got)
	})
	t.Run("file without newline", func(t *testing.T) {
		unset(t)
		got, err := Upstream{PasswordFile: file("s3cret")}.UpstreamPassword()
		require.NoError(t, err)
		assert.Equal(t, "s3cret", got)
	})
	t.Run("missing file", func(t *testing.T) {
		unset(t)
		_, err := Upstream{PasswordFile: filepath.Join(dir, "missing")}.UpstreamPassword()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "password_file")
	})
	t.Run("neither", func(t *testing.T) {
		unset(t)
		got, err := Upstream{}.UpstreamPassword()
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}

func TestDurationText(t *testing.T) {
	var d Duration
	require.NoError(t, d.UnmarshalText([]byte("1h30m")))
	assert.Equal(t, 90*time.Minute, d.Duration)
	b, err := d.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "1h30m0s", string(b))
	assert.Error(t, d.UnmarshalText([]byte("90")))
}
