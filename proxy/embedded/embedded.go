// Package embedded runs CNCF distribution's registry inside the gateway
// process, for the configuration `url = "embedded"`.
//
// The registry stores its data on the local filesystem under
// Options.DataDir and listens on a unix socket in a private (0700) temporary
// directory, never on a TCP port: nothing else on the machine can reach it
// except through the gateway, which holds the only Transport to it. It has no
// authentication of its own; the gateway in front decides who may do what.
//
// # Process-global effects
//
// distribution logs only through logrus's global standard logger: its
// context logger (dcontext) starts from logrus.StandardLogger(), and the
// functions that would give an App a logger of its own live in an internal
// package. So Start sets that global logger to warn level with its output
// discarded (nothing reaches stdout or stderr, not even dcontext's
// per-request info lines) and adds a hook that hands warn, error, fatal and
// panic entries to Options.Logger; Close removes the hook and leaves logrus
// quiet. Entries cannot be told apart by registry, so with several
// registries running each logger receives all of them.
//
// Importing this package pulls in distribution's handlers, whose imports
// register /debug/health and /debug/vars on http.DefaultServeMux. The gateway
// must not serve http.DefaultServeMux.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/registry/handlers"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	// The filesystem storage driver registers itself with the driver
	// factory that handlers.NewApp looks it up in.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

const (
	// fakeHost is the host name in URL. Only a Transport from this package
	// can reach the registry. The reserved .invalid top-level domain (RFC
	// 6761) never resolves, so a request sent through any other transport
	// fails instead of reaching whatever a DNS search domain makes of a
	// bare "robotgate-embedded". The dot also makes image references such
	// as robotgate-embedded.invalid/team-a/app parse with this host as the
	// registry; a bare label would be read as a Docker Hub repository path.
	fakeHost = "robotgate-embedded.invalid"
	// socketName is the socket's file name inside the private directory.
	socketName = "registry.sock"
	// readHeaderTimeout bounds how long the server waits for request
	// headers. There is no whole-request timeout: pushes and pulls of large
	// blobs take as long as they take.
	readHeaderTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections that carry nothing.
	idleTimeout = 2 * time.Minute
	// dialTimeout bounds connecting to the socket.
	dialTimeout = 10 * time.Second
)

// ErrNoDataDir means Options.DataDir was empty.
var ErrNoDataDir = errors.New("embedded: no data directory")

// Options configures Start.
type Options struct {
	// DataDir is the storage root; it is created (mode 0700) if missing.
	// The registry writes the same layout a standalone registry with
	// rootdirectory=DataDir does (DataDir/docker/registry/v2/...), plus the
	// upload-signing secret in DataDir/.http-secret. Required.
	DataDir string
	// Logger receives distribution's log entries at warn and above; the
	// rest are discarded. Nil means zap.NewNop().
	Logger *zap.Logger
}

// Registry is a running in-process registry reachable only through
// Transport (a unix socket in a private 0700 temp dir, never a TCP port, so
// nothing local can bypass the gateway).
type Registry struct {
	app      *handlers.App
	srv      *http.Server
	sockDir  string
	sockPath string
	served   chan error // receives Serve's result once
	stopLogs func()

	closeOnce sync.Once
	closeErr  error
}

// Start runs a registry on opts.DataDir. The registry runs until Close;
// ctx's cancellation does not stop it, but its values reach distribution.
//
// Start routes distribution's logging, which goes through logrus's global
// standard logger, to opts.Logger (see "Process-global effects" above).
func Start(ctx context.Context, opts Options) (*Registry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: start: %w", err)
	}
	if opts.DataDir == "" {
		return nil, ErrNoDataDir
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data directory: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: data directory: %w", err)
	}
	secret, err := loadOrCreateSecret(dataDir)
	if err != nil {
		return nil, err
	}

	r := &Registry{served: make(chan error, 1)}
	ok := false
	defer func() {
		if !ok {
			r.abort()
		}
	}()

	r.stopLogs = routeLogs(log)
	ln, err := r.listen()
	if err != nil {
		return nil, err
	}
	r.app, err = newApp(context.WithoutCancel(ctx), newConfiguration(dataDir, secret))
	if err != nil {
		ln.Close()
		return nil, err
	}
	errorLog, err := zap.NewStdLogAt(log.Named("http"), zapcore.WarnLevel)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded: server log: %w", err)
	}
	r.srv = &http.Server{
		Handler:           r.app,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          errorLog,
	}
	go func() { r.served <- r.srv.Serve(ln) }()
	ok = true
	return r, nil
}

// listen creates the private socket directory and listens in it.
func (r *Registry) listen() (net.Listener, error) {
	dir, err := os.MkdirTemp("", "robotgate-embedded-")
	if err != nil {
		return nil, fmt.Errorf("embedded: socket directory: %w", err)
	}
	r.sockDir = dir
	// MkdirTemp already creates 0700; stated because the security of the
	// socket rests on it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: socket directory: %w", err)
	}
	r.sockPath = filepath.Join(dir, socketName)
	ln, err := net.Listen("unix", r.sockPath)
	if err != nil {
		return nil, fmt.Errorf("embedded: listen: %w", err)
	}
	return ln, nil
}

// abort undoes a Start that failed part way.
func (r *Registry) abort() {
	if r.app != nil {
		_ = r.app.Shutdown()
	}
	if r.stopLogs != nil {
		r.stopLogs()
	}
	if r.sockDir != "" {
		_ = os.RemoveAll(r.sockDir)
	}
}

// URL is the base URL to use for requests, http://robotgate-embedded.invalid
// (a fixed fake host name); only Transport can reach it. Each call returns a
// new copy.
func (r *Registry) URL() *url.URL {
	return &url.URL{Scheme: "http", Host: fakeHost}
}

// Transport returns an *http.Transport (clone of http.DefaultTransport
// settings, DisableCompression true, HTTP/1.1) whose DialContext always
// dials the registry's unix socket, whatever host a request names.
//
// It uses no proxy: HTTP_PROXY and friends would otherwise send requests
// for the fake host elsewhere. Each call returns a new Transport with its own
// connection pool; keep one and reuse it.
func (r *Registry) Transport() *http.Transport {
	t := baseTransport()
	t.Proxy = nil
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	t.Protocols = &protocols
	dialer := &net.Dialer{Timeout: dialTimeout}
	sock := r.sockPath
	t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, "unix", sock)
	}
	t.DialTLSContext = nil
	return t
}

// baseTransport clones http.DefaultTransport, or builds its documented
// settings if a program replaced it with another type.
func baseTransport() *http.Transport {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Close stops the server (gracefully, waiting for requests in flight until
// ctx ends, then closing what is left) and removes the socket dir. Stored
// data stays in DataDir. Calls after the first return the first's result.
func (r *Registry) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		var errs []error
		if err := r.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("embedded: graceful shutdown: %w", err))
			if err := r.srv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("embedded: close server: %w", err))
			}
		}
		if err := <-r.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("embedded: serve: %w", err))
		}
		if err := r.app.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("embedded: stop registry: %w", err))
		}
		r.stopLogs()
		if err := os.RemoveAll(r.sockDir); err != nil {
			errs = append(errs, fmt.Errorf("embedded: remove socket directory: %w", err))
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}
