package embedded

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
)

// Defaults that configuration.Parse would fill in, or that we choose on
// purpose, for the hand-built configuration. handlers.NewApp applies none of
// Parse's defaults, so every value here is one whose zero value is broken or
// unwanted.
const (
	// catalogMaxEntries is Parse's default for catalog.maxentries. At zero,
	// every _catalog?n=... answers 400 PAGINATION_NUMBER_INVALID and a plain
	// _catalog returns an empty list.
	catalogMaxEntries = 1000

	// tagsMaxTags is Parse's default for tags.maxtags: tag lists asking for
	// more are clamped to it. At zero there is no clamp at all.
	tagsMaxTags = 1000

	// logLevel is what the configuration records; distribution's App does
	// not read it (the registry command does), see routeLogs for what
	// really levels distribution's output.
	logLevel configuration.Loglevel = "warn"
)

// newConfiguration builds the registry configuration: filesystem storage
// rooted at dataDir, deletes on, redirects off, relative URLs and the given
// shared HTTP secret.
//
// Defaults of NewApp that already match Parse and are kept as they are:
// upload purging (enabled, age 168h, interval 24h, when storage.maintenance
// is absent), manifest validation (enabled, no foreign-layer URLs allowed,
// image indexes must be complete), no health checks (RegisterHealthChecks is
// never called), no notifications, no redis, no auth (the gateway in front
// does that), no prometheus (it would register process-global metrics).
func newConfiguration(dataDir, secret string) *configuration.Configuration {
	cfg := &configuration.Configuration{
		Version: configuration.CurrentVersion,
		Log: configuration.Log{
			Level:     logLevel,
			AccessLog: configuration.AccessLog{Disabled: true},
		},
		Storage: configuration.Storage{
			// The same layout a standalone registry with
			// rootdirectory=dataDir uses (dataDir/docker/registry/v2), so
			// the directory can move between the embedded and an external
			// registry.
			"filesystem": configuration.Parameters{"rootdirectory": dataDir},
			// Without it DELETE answers 405 UNSUPPORTED.
			"delete": configuration.Parameters{"enabled": true},
			// The filesystem driver cannot redirect anyway; stating it
			// keeps a client from ever being sent around the gateway.
			"redirect": configuration.Parameters{"disable": true},
		},
		HTTP: configuration.HTTP{
			// Net and Addr are informative only: the App never listens,
			// Start serves it on a unix socket.
			Net:  "unix",
			Addr: socketName,
			// Persisted in dataDir so that restarts and replicas sharing
			// the storage accept each other's upload _state tokens.
			Secret: secret,
			// Location headers name only a path, so the fake host name
			// of URL() never reaches a client through the gateway.
			RelativeURLs: true,
		},
		Catalog: configuration.Catalog{MaxEntries: catalogMaxEntries},
		Tags:    configuration.Tags{MaxTags: tagsMaxTags},
	}
	return cfg
}

// newApp calls handlers.NewApp, which reports configuration problems by
// panicking, and turns such a panic into an error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("embedded: configure registry: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}
