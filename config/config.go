package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Defaults for every key; config.example.toml documents the same values.
const (
	DefaultFile            = "robotgate.toml"
	DefaultListen          = ":5000"
	DefaultRealm           = "robotgate"
	DefaultShutdownTimeout = 30 * time.Second
	DefaultUpstreamURL     = Embedded
	DefaultDataDir         = "data"
	DefaultAccountsFile    = "accounts.toml"
	DefaultPrefix          = "tcr$"
	DefaultCacheSize       = 4096
	DefaultWarnBefore      = 7 * 24 * time.Hour
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "json"

	// Embedded is the upstream URL that runs the registry in-process.
	Embedded = "embedded"
	// UpstreamPasswordEnv overrides [upstream] password_file.
	UpstreamPasswordEnv = "ROBOTGATE_UPSTREAM_PASSWORD"
)

// Config is the whole file. Load returns it with defaults filled in and
// relative paths resolved against the file's directory.
type Config struct {
	Server   Server   `toml:"server"`
	Upstream Upstream `toml:"upstream"`
	Accounts Accounts `toml:"accounts"`
	Public   Public   `toml:"public"`
	Log      Log      `toml:"log"`

	// Path is the file the config came from; empty for built-in defaults.
	Path string `toml:"-"`
}

// Server is the gateway's listener.
type Server struct {
	Listen          string   `toml:"listen"`
	Realm           string   `toml:"realm"`
	TLSCertFile     string   `toml:"tls_cert_file"` // both set: serve HTTPS
	TLSKeyFile      string   `toml:"tls_key_file"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// Upstream is the registry the gateway forwards to.
type Upstream struct {
	URL                string `toml:"url"` // "embedded" or http(s)://host[:port]
	DataDir            string `toml:"data_dir"`
	Username           string `toml:"username"` // empty: no upstream credentials
	PasswordFile       string `toml:"password_file"`
	CAFile             string `toml:"ca_file"`
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
	FollowRedirects    bool   `toml:"follow_redirects"`
}

// Accounts locates the account file and tunes authentication.
type Accounts struct {
	File       string   `toml:"file"`
	Prefix     string   `toml:"prefix"`
	CacheSize  int      `toml:"cache_size"`
	WarnBefore Duration `toml:"warn_before"`
}

// Public lists namespaces anyone may pull from.
type Public struct {
	Namespaces []string `toml:"namespaces"`
}

// Log configures the zap logger.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (use Go syntax such as \"30s\" or \"168h\"): %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the built-in configuration.
func Default() *Config {
	return &Config{
		Server:   Server{Listen: DefaultListen, Realm: DefaultRealm, ShutdownTimeout: Duration{DefaultShutdownTimeout}},
		Upstream: Upstream{URL: DefaultUpstreamURL, DataDir: DefaultDataDir},
		Accounts: Accounts{File: DefaultAccountsFile, Prefix: DefaultPrefix, CacheSize: DefaultCacheSize,
			WarnBefore: Duration{DefaultWarnBefore}},
		Log: Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}

// ErrUnknownKey marks a key the configuration does not have.
var ErrUnknownKey = errors.New("unknown key")

// Load reads a config file strictly. When path is the default file name and
// it does not exist, Load returns the defaults (relative to the working
// directory). It does not validate values; call Validate.
func Load(path string, isDefault bool) (*Config, error) {
	cfg := Default()
	data, err := os.ReadFile(path)
	switch {
	case err != nil && isDefault && errors.Is(err, os.ErrNotExist):
		cfg.resolve(".")
		return cfg, nil
	case err != nil:
		return nil, fmt.Errorf("read config: %w", err)
	}
	// Syntax first, so that an error of the typed decode below is a bad
	// value and can be named by its key (the decoder's LastKey is only the
	// key before the error when the syntax is wrong).
	if _, err := toml.Decode(string(data), &map[string]any{}); err != nil {
		return nil, decodeError(path, err, false)
	}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return nil, decodeError(path, err, true)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		var errs []error
		for _, k := range undecoded {
			loc := path
			if n := keyLine(data, k); n > 0 {
				loc = fmt.Sprintf("%s:%d", path, n)
			}
			errs = append(errs, fmt.Errorf("%s: %w %q", loc, ErrUnknownKey, k.String()))
		}
		return nil, errors.Join(errs...)
	}
	cfg.Path = path
	cfg.resolve(filepath.Dir(path))
	return cfg, nil
}

// decodeError renders a TOML error as "path:line: message", with the key
// when the value of that key was refused.
func decodeError(path string, err error, value bool) error {
	var perr toml.ParseError
	if !errors.As(err, &perr) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if value && perr.LastKey != "" {
		return fmt.Errorf("%s:%d: %s: %s", path, perr.Position.Line, perr.LastKey, perr.Message)
	}
	return fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
}

// resolve makes relative paths relative to dir (the config file's folder).
func (c *Config) resolve(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if c.Upstream.URL == Embedded {
		c.Upstream.DataDir = abs(c.Upstream.DataDir)
	}
	c.Accounts.File = abs(c.Accounts.File)
	c.Upstream.PasswordFile = abs(c.Upstream.PasswordFile)
	c.Upstream.CAFile = abs(c.Upstream.CAFile)
	c.Server.TLSCertFile = abs(c.Server.TLSCertFile)
	c.Server.TLSKeyFile = abs(c.Server.TLSKeyFile)
}

// TLS reports whether the gateway serves HTTPS.
func (s Server) TLS() bool { return s.TLSCertFile != "" && s.TLSKeyFile != "" }

// UpstreamPassword returns the gateway's own upstream password: the
// environment variable wins over password_file. Trailing newlines in the
// file are dropped.
func (u Upstream) UpstreamPassword() (string, error) {
	if v, ok := os.LookupEnv(UpstreamPasswordEnv); ok {
		return v, nil
	}
	if u.PasswordFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(u.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("upstream password_file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
