package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateDefaults(t *testing.T) {
	assert.NoError(t, Default().Validate())
}

func TestValidateGoodValues(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "x.pem")
	require.NoError(t, os.WriteFile(pem, []byte("x"), 0o600))
	c := Default()
	c.Server.Listen = "127.0.0.1:8443"
	c.Server.TLSCertFile, c.Server.TLSKeyFile = pem, pem
	c.Upstream.URL = "https://registry.internal:5000/"
	c.Upstream.CAFile = pem
	c.Upstream.Username, c.Upstream.PasswordFile = "gw", pem
	c.Accounts.Prefix = ""
	c.Public.Namespaces = []string{"library", "lib-*"}
	c.Log.Level, c.Log.Format = "error", "console"
	c.Accounts.WarnBefore = Duration{0}
	assert.NoError(t, c.Validate())
}

func TestValidateNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name   string
		change func(c *Config)
		key    string
		phrase string
	}{
		{"listen without port", func(c *Config) { c.Server.Listen = "localhost" }, "server.listen", "not host:port"},
		{"empty realm", func(c *Config) { c.Server.Realm = "" }, "server.realm", "must not be empty"},
		{"key without cert", func(c *Config) { c.Server.TLSKeyFile = dir }, "server.tls_cert_file", "set together"},
		{"missing cert file", func(c *Config) { c.Server.TLSCertFile, c.Server.TLSKeyFile = missing, dir }, "server.tls_cert_file", "no such file"},
		{"missing key file", func(c *Config) { c.Server.TLSCertFile, c.Server.TLSKeyFile = dir, missing }, "server.tls_key_file", "no such file"},
		{"negative shutdown timeout", func(c *Config) { c.Server.ShutdownTimeout = Duration{-time.Second} }, "server.shutdown_timeout", "negative"},
		{"upstream without scheme", func(c *Config) { c.Upstream.URL = "registry:5000" }, "upstream.url", "http(s)://host[:port]"},
		{"upstream ftp", func(c *Config) { c.Upstream.URL = "ftp://registry" }, "upstream.url", "http(s)://host[:port]"},
		{"upstream without host", func(c *Config) { c.Upstream.URL = "https://" }, "upstream.url", "no host"},
		{"upstream with path", func(c *Config) { c.Upstream.URL = "https://registry/v2" }, "upstream.url", "no path"},
		{"upstream with user", func(c *Config) { c.Upstream.URL = "https://me:pw@registry" }, "upstream.url", "no path, query or user"},
		{"embedded without data_dir", func(c *Config) { c.Upstream.DataDir = "" }, "upstream.data_dir", "must not be empty"},
		{"missing ca file", func(c *Config) { c.Upstream.CAFile = missing }, "upstream.ca_file", "no such file"},
		{"missing password file", func(c *Config) { c.Upstream.Username, c.Upstream.PasswordFile = "gw", missing }, "upstream.password_file", "no such file"},
		{"password without username", func(c *Config) { c.Upstream.PasswordFile = dir }, "upstream.username", "username is empty"},
		{"empty account file", func(c *Config) { c.Accounts.File = "" }, "accounts.file", "must not be empty"},
		{"prefix with a slash", func(c *Config) { c.Accounts.Prefix = "tcr/" }, "accounts.prefix", "at most 16"},
		{"prefix too long", func(c *Config) { c.Accounts.Prefix = strings.Repeat("p", 17) }, "accounts.prefix", "at most 16"},
		{"zero cache", func(c *Config) { c.Accounts.CacheSize = 0 }, "accounts.cache_size", "at least 1, got 0"},
		{"negative warn_before", func(c *Config) { c.Accounts.WarnBefore = Duration{-time.Hour} }, "accounts.warn_before", "negative"},
		{"bad public namespace", func(c *Config) { c.Public.Namespaces = []string{"ok", "Bad NS"} }, "public.namespaces[1]", "invalid namespace pattern"},
		{"unknown log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", "use debug, info, warn or error"},
		{"unknown log format", func(c *Config) { c.Log.Format = "text" }, "log.format", "use json or console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(c)
			err := c.Validate()
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, 1, "one problem, one message: %q", err)
			assert.True(t, strings.HasPrefix(lines[0], tt.key+": "), "%q names %s", lines[0], tt.key)
			assert.Contains(t, lines[0], tt.phrase)
		})
	}
}

func TestValidateReportsEveryProblemInOrder(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Server.Listen = "nowhere"
	c.Server.TLSCertFile = filepath.Join(dir, "cert.pem")
	c.Server.TLSKeyFile = filepath.Join(dir, "key.pem")
	c.Upstream.CAFile = filepath.Join(dir, "ca.pem")
	c.Accounts.CacheSize = -1
	c.Log.Format = "xml"

	want := []string{"server.listen", "server.tls_cert_file", "server.tls_key_file", "upstream.ca_file", "accounts.cache_size", "log.format"}
	first := c.Validate()
	require.Error(t, first)
	for range 20 { // a map's order would change between runs
		err := c.Validate()
		require.Error(t, err)
		require.Equal(t, first.Error(), err.Error(), "the same problems in the same order every time")
	}
	lines := strings.Split(first.Error(), "\n")
	require.Len(t, lines, len(want))
	for i, key := range want {
		assert.True(t, strings.HasPrefix(lines[i], key+": "), "line %d %q names %s", i, lines[i], key)
	}
}

func TestValidateFiveProblemsFiveMessages(t *testing.T) {
	c := Default()
	c.Server.Realm = ""
	c.Upstream.URL = "registry.example.com"
	c.Accounts.Prefix = "no spaces"
	c.Accounts.CacheSize = 0
	c.Log.Level = "trace"
	err := c.Validate()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Len(t, lines, 5)
	for _, key := range []string{"server.realm", "upstream.url", "accounts.prefix", "accounts.cache_size", "log.level"} {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, key+": ") {
				n++
			}
		}
		assert.Equal(t, 1, n, "one message names %s in %q", key, err)
	}
}
