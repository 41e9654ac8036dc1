package proxy

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/robotgate/robotgate/accounts"
)

// expiryWarner adds a Warning header to every answer for an account that
// expires within the warning window (the OCI distribution spec lets
// registries send Warning: 299; docker, podman and others print it), and
// logs one warning per account per day.
type expiryWarner struct {
	window time.Duration
	log    *zap.Logger
	mu     sync.Mutex
	logged map[string]string // account -> day last logged
}

func newExpiryWarner(window time.Duration, log *zap.Logger) *expiryWarner {
	return &expiryWarner{window: window, log: log, logged: map[string]string{}}
}

func (e *expiryWarner) warn(h http.Header, a *accounts.Account, now time.Time) {
	if e.window <= 0 || a.ExpiresAt == nil {
		return
	}
	left := a.ExpiresAt.Sub(now)
	if left <= 0 || left > e.window {
		return
	}
	msg := fmt.Sprintf("service account %s expires on %s (%s)", a.Name, accounts.LastDay(*a.ExpiresAt), accounts.Relative(*a.ExpiresAt, now))
	h.Add("Warning", fmt.Sprintf("299 - %q", msg))
	day := now.UTC().Format(time.DateOnly)
	e.mu.Lock()
	first := e.logged[a.Name] != day
	e.logged[a.Name] = day
	e.mu.Unlock()
	if first {
		e.log.Warn("service account expires soon", zap.String("account", a.Name), zap.Time("expires_at", *a.ExpiresAt))
	}
}
