package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/robotgate/robotgate/config"
	"github.com/robotgate/robotgate/proxy"
	"github.com/robotgate/robotgate/proxy/embedded"
)

// upstream builds the registry URL and transport: the embedded registry,
// or a remote one reached with the gateway's own credentials (Basic, or
// Bearer tokens from its token service, as its /v2/ challenge says) and,
// with follow_redirects, fetching redirect targets itself.
func upstream(ctx context.Context, cfg *config.Config, log *zap.Logger) (*url.URL, http.RoundTripper, func(context.Context) error, error) {
	if cfg.Upstream.URL == config.Embedded {
		reg, err := embedded.Start(ctx, embedded.Options{DataDir: cfg.Upstream.DataDir, Logger: log.Named("registry")})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded registry: %w", err)
		}
		return reg.URL(), reg.Transport(), reg.Close, nil
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.Upstream.URL, "/"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("upstream.url: %w", err)
	}
	tlsCfg, err := upstreamTLS(cfg.Upstream)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Upstream.InsecureSkipVerify {
		log.Warn("upstream TLS certificates are not verified (insecure_skip_verify = true)")
	}
	base := proxy.NewTransport(proxy.TransportOptions{TLS: tlsCfg})
	var pw string
	if cfg.Upstream.Username != "" {
		if pw, err = cfg.Upstream.UpstreamPassword(); err != nil {
			return nil, nil, nil, err
		}
	}
	auth, err := proxy.NewUpstreamAuth(proxy.UpstreamAuthOptions{
		Base: base, Upstream: u, Username: cfg.Upstream.Username, Password: pw, Logger: log.Named("upstream"),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var rt http.RoundTripper = auth
	if cfg.Upstream.FollowRedirects {
		rt = &proxy.FollowRedirects{Next: auth, Direct: base}
	}
	closeIdle := func(context.Context) error { base.CloseIdleConnections(); return nil }
	return u, rt, closeIdle, nil
}

// upstreamTLS is the client TLS config for an https upstream: the system
// roots plus ca_file, or no verification when the operator asked for it.
func upstreamTLS(c config.Upstream) (*tls.Config, error) {
	tlsCfg := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // only when the operator sets it
	if c.CAFile == "" {
		return tlsCfg, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("upstream.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream.ca_file %s: no PEM certificate found", c.CAFile)
	}
	tlsCfg.RootCAs = pool
	return tlsCfg, nil
}
