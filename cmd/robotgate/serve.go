package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/robotgate/robotgate/accounts"
	"github.com/robotgate/robotgate/config"
	"github.com/robotgate/robotgate/policy"
	"github.com/robotgate/robotgate/proxy"
)

// Server timeouts bound headers and idle connections only: a whole-request
// deadline would cut a long upload or download.
const (
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 1 << 20
)

func cmdServe(e env, global *flags, args []string) error {
	f := newFlags("serve")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments")
	}
	f.inherit(global)
	cfg, err := f.loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log, err := newLogger(cfg.Log, e)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Bind first: a busy port must fail before the first-run banner prints
	// the one-time admin password.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set [server] listen in %s)", cfg.Server.Listen, err, configName(cfg))
	}
	defer ln.Close()
	if err := firstRun(e, cfg); err != nil {
		return err
	}
	store := accounts.NewStore(cfg.Accounts.File, cfg.Accounts.Prefix, log.Named("accounts"))
	if err := store.Load(); err != nil {
		return err
	}
	auth, err := accounts.NewAuthenticator(store, cfg.Accounts.CacheSize)
	if err != nil {
		return err
	}
	lastUsed := accounts.NewLastUsed(accounts.LastUsedPath(cfg.Accounts.File))
	auth.OnSuccess = lastUsed.Touch

	upURL, transport, closeUpstream, err := upstream(ctx, cfg, log)
	if err != nil {
		return err
	}
	pol, err := policy.New(cfg.Public.Namespaces)
	if err != nil {
		return err
	}
	gw, err := proxy.New(proxy.Options{
		Upstream: upURL, Transport: transport, Authenticator: auth, Policy: pol,
		Realm: cfg.Server.Realm, WarnBefore: cfg.Accounts.WarnBefore.Duration, Logger: log.Named("access"),
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	bg, cancelBG := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { store.Watch(bg, accounts.DefaultPollInterval); done <- struct{}{} }()
	go func() {
		lastUsed.Run(bg, accounts.LastUsedFlushInterval, func(err error) { log.Warn("last-used state not written", zap.Error(err)) })
		done <- struct{}{}
	}()

	serveErr := make(chan error, 1)
	go func() {
		if cfg.Server.TLS() {
			serveErr <- srv.ServeTLS(ln, cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	log.Info("robotgate listening", zap.String("addr", ln.Addr().String()), zap.Bool("tls", cfg.Server.TLS()),
		zap.String("upstream", cfg.Upstream.URL), zap.String("accounts", cfg.Accounts.File), zap.Int("account_count", store.Current().Len()))

	select {
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		log.Info("shutting down; draining in-flight requests", zap.Duration("timeout", cfg.Server.ShutdownTimeout.Duration))
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.Duration)
		err = srv.Shutdown(sctx)
		cancel()
		if err != nil {
			err = fmt.Errorf("shutdown: %w", err)
		}
	}
	cancelBG()
	<-done
	<-done
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cerr := closeUpstream(cctx); cerr != nil {
		log.Warn("closing the upstream", zap.Error(cerr))
	}
	log.Info("robotgate stopped")
	return err
}

// firstRun creates the account file with tcr$admin when it does not exist
// and prints that password once, to stderr, outside the log stream.
func firstRun(e env, cfg *config.Config) error {
	if _, err := os.Stat(cfg.Accounts.File); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	ed := &accounts.Editor{Path: cfg.Accounts.File, Prefix: cfg.Accounts.Prefix}
	a, pw, err := ed.Create(accounts.NewAccount{
		Name: "admin", Description: "created by robotgate serve on first start",
		Grants: []policy.Grant{{Namespace: "*", Level: policy.LevelReadWrite}},
	}, time.Now())
	if errors.Is(err, accounts.ErrExists) {
		return nil // another replica won the race
	}
	if err != nil {
		return fmt.Errorf("create the first account: %w", err)
	}
	host := loginHost(cfg.Server.Listen)
	fmt.Fprintf(e.stderr, "\n  created %s with account %s (read-write on every namespace, permanent)\n", cfg.Accounts.File, a.Name)
	fmt.Fprintf(e.stderr, "  password for %s (shown once, store it now): %s\n", a.Name, pw)
	fmt.Fprintf(e.stderr, "  printf '%%s' '%s' | docker login %s -u '%s' --password-stdin\n\n", pw, host, a.Name)
	return nil
}

func loginHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func configName(cfg *config.Config) string {
	if cfg.Path == "" {
		return config.DefaultFile
	}
	return cfg.Path
}
