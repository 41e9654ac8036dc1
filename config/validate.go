package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"

	"github.com/robotgate/robotgate/policy"
)

var prefixRule = regexp.MustCompile(`^[A-Za-z0-9$._-]{0,16}$`)

// Validate checks every value and returns all problems joined (nil when the
// config is good), each naming its key.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add("server.listen", "%q is not host:port (%v); e.g. \":5000\" or \"127.0.0.1:5000\"", c.Server.Listen, err)
	}
	if c.Server.Realm == "" {
		add("server.realm", "must not be empty")
	}
	if (c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == "") {
		add("server.tls_cert_file", "tls_cert_file and tls_key_file must be set together")
	}
	// A slice, not a map: problems are reported in the same order every time.
	for _, f := range []struct{ key, path string }{
		{"server.tls_cert_file", c.Server.TLSCertFile},
		{"server.tls_key_file", c.Server.TLSKeyFile},
		{"upstream.ca_file", c.Upstream.CAFile},
	} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				add(f.key, "%v", err)
			}
		}
	}
	if c.Server.ShutdownTimeout.Duration < 0 {
		add("server.shutdown_timeout", "must not be negative")
	}

	if c.Upstream.URL != Embedded {
		u, err := url.Parse(c.Upstream.URL)
		switch {
		case err != nil:
			add("upstream.url", "%v", err)
		case u.Scheme != "http" && u.Scheme != "https":
			add("upstream.url", "%q: use \"embedded\" or http(s)://host[:port]", c.Upstream.URL)
		case u.Host == "":
			add("upstream.url", "%q has no host", c.Upstream.URL)
		case u.Path != "" && u.Path != "/", u.RawQuery != "", u.User != nil:
			add("upstream.url", "%q: give only scheme, host and port (no path, query or user)", c.Upstream.URL)
		}
	} else if c.Upstream.DataDir == "" {
		add("upstream.data_dir", "must not be empty with url = \"embedded\"")
	}
	if c.Upstream.PasswordFile != "" {
		if _, err := os.Stat(c.Upstream.PasswordFile); err != nil {
			add("upstream.password_file", "%v", err)
		}
	}
	if c.Upstream.Username == "" && c.Upstream.PasswordFile != "" {
		add("upstream.username", "password_file is set but username is empty")
	}

	if c.Accounts.File == "" {
		add("accounts.file", "must not be empty")
	}
	if !prefixRule.MatchString(c.Accounts.Prefix) {
		add("accounts.prefix", "%q: at most 16 of [A-Za-z0-9$._-]", c.Accounts.Prefix)
	}
	if c.Accounts.CacheSize < 1 {
		add("accounts.cache_size", "must be at least 1, got %d", c.Accounts.CacheSize)
	}
	if c.Accounts.WarnBefore.Duration < 0 {
		add("accounts.warn_before", "must not be negative")
	}

	for i, ns := range c.Public.Namespaces {
		if err := policy.ValidatePattern(ns); err != nil {
			add(fmt.Sprintf("public.namespaces[%d]", i), "%v", err)
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format", "%q: use json or console", c.Log.Format)
	}
	return errors.Join(errs...)
}
