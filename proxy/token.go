package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// Token handling limits.
const (
	// DefaultTokenCacheSize is how many scopes keep a token when
	// UpstreamAuthOptions.TokenCacheSize is zero.
	DefaultTokenCacheSize = 1024
	// defaultTokenLifetime applies when the token service omits expires_in
	// (the Docker token spec's default).
	defaultTokenLifetime = 60 * time.Second
	// maxRefreshMargin caps how long before its expiry a token is replaced.
	maxRefreshMargin = 30 * time.Second
	// authTimeout bounds one ping or one token exchange. They run detached
	// from the client's context, because other requests wait for them too.
	authTimeout = 30 * time.Second
)

// UpstreamAuthOptions configure NewUpstreamAuth.
type UpstreamAuthOptions struct {
	// Base reaches the upstream without adding any credentials. Required.
	Base http.RoundTripper
	// Upstream is the registry's base URL (scheme and host). Required.
	Upstream *url.URL
	// Username and Password are the gateway's own upstream credentials;
	// an empty Username means anonymous (Bearer upstreams then get
	// anonymous tokens).
	Username, Password string
	// TokenCacheSize bounds the per-scope token cache; zero means
	// DefaultTokenCacheSize.
	TokenCacheSize int
	// Logger receives auth decisions and failures; nil discards them.
	Logger *zap.Logger
}

// UpstreamAuth is the RoundTripper that authenticates the gateway to the
// upstream (SPEC section 4, "Upstream credentials"). It pings /v2/ once
// (transport.Ping) and keeps the challenge until a network failure or a
// 401 of another scheme shows it stale:
//
//   - Basic, or no challenge: the gateway's credentials go as Basic (none
//     when Username is empty). A Bearer 401 from a repository switches to
//     tokens from then on.
//   - Bearer: the gateway exchanges its credentials at the challenge's
//     realm for a token per scope (RequestScopes), kept in an LRU until a
//     little before expires_in runs out, and sends that. The client never
//     sees the upstream's challenge: a 401 that is left becomes the
//     gateway's 502.
//
// Requests for any other host (object storage behind a redirect) get no
// credentials at all.
type UpstreamAuth struct {
	base   http.RoundTripper
	up     *url.URL
	reg    name.Registry
	user   authn.Authenticator
	basic  *BasicAuth
	tokens *lru.Cache[string, cachedToken]
	log    *zap.Logger
	now    func() time.Time

	mu        sync.Mutex
	challenge *transport.Challenge // nil: not pinged, or forgotten after a failure
	pings     singleflight.Group
	exchanges singleflight.Group
}

var _ http.RoundTripper = (*UpstreamAuth)(nil)

type cachedToken struct {
	value     string
	refreshAt time.Time
}

// NewUpstreamAuth builds the authenticating transport. It does not contact
// the upstream: the first request pings it, so the gateway starts even
// while the upstream is down.
func NewUpstreamAuth(o UpstreamAuthOptions) (*UpstreamAuth, error) {
	if o.Base == nil || o.Upstream == nil || o.Upstream.Host == "" {
		return nil, errors.New("proxy: upstream auth needs a base transport and an upstream URL")
	}
	var opts []name.Option
	if o.Upstream.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(o.Upstream.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream host: %w", err)
	}
	if o.TokenCacheSize <= 0 {
		o.TokenCacheSize = DefaultTokenCacheSize
	}
	cache, err := lru.New[string, cachedToken](o.TokenCacheSize)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	a := &UpstreamAuth{
		base: o.Base, up: o.Upstream, reg: reg, user: authn.Anonymous, tokens: cache, log: o.Logger, now: time.Now,
		basic: &BasicAuth{Base: o.Base, Host: o.Upstream.Host, Username: o.Username, Password: o.Password},
	}
	if o.Username != "" {
		a.user = &authn.Basic{Username: o.Username, Password: o.Password}
	}
	return a, nil
}

// RoundTrip implements http.RoundTripper.
func (a *UpstreamAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.EqualFold(r.URL.Host, a.up.Host) || r.URL.Scheme != a.up.Scheme {
		return a.base.RoundTrip(r) // never credentials for another host
	}
	ch, err := a.ping(r.Context())
	if err != nil {
		return nil, err
	}
	if isBearerScheme(ch.Scheme) {
		return a.sendBearer(r, ch)
	}
	resp, err := a.basic.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		a.check(resp, err, ch)
		return resp, err
	}
	// An upstream whose /v2/ is open or Basic may still want tokens for
	// repositories: take the challenge of this answer from now on.
	params, ok := bearerChallenge(resp)
	if !ok || params["realm"] == "" {
		a.check(resp, nil, ch)
		return resp, nil
	}
	bearer := &transport.Challenge{Scheme: "Bearer", Parameters: params, Insecure: ch.Insecure}
	a.mu.Lock()
	if a.challenge == ch {
		a.challenge = bearer
	}
	a.mu.Unlock()
	a.log.Info("upstream asks for Bearer tokens", zap.String("path", r.URL.Path), zap.String("realm", params["realm"]))
	retry, ok := replay(r)
	if !ok {
		return resp, nil
	}
	drain(resp)
	return a.sendBearer(retry, bearer)
}

// sendBearer sends r with a token for its scope. The token is in hand
// before the body is sent; a refused token is refreshed and the request
// retried once, and only when its body can be replayed, so no blob is ever
// buffered for a retry.
func (a *UpstreamAuth) sendBearer(r *http.Request, ch *transport.Challenge) (*http.Response, error) {
	scopes := RequestScopes(r)
	key := strings.Join(scopes, " ")
	tok, err := a.token(r.Context(), ch, key, scopes)
	if err != nil {
		return nil, err
	}
	resp, err := a.base.RoundTrip(withBearer(r, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		a.check(resp, err, ch)
		return resp, err
	}
	// The token was refused: expired early, revoked, or too narrow.
	a.tokens.Remove(key)
	params, isBearer := bearerChallenge(resp)
	retry, ok := replay(r)
	if !isBearer || !ok {
		a.check(resp, nil, ch)
		a.log.Warn("upstream refused the gateway's token", zap.String("method", r.Method), zap.String("scope", key),
			zap.String("challenge", resp.Header.Get("WWW-Authenticate")), zap.Bool("replayable", ok))
		return resp, nil
	}
	drain(resp)
	if tok, err = a.token(r.Context(), ch, key, union(scopes, strings.Fields(params["scope"]))); err != nil {
		return nil, err
	}
	resp, err = a.base.RoundTrip(withBearer(retry, tok))
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		a.tokens.Remove(key)
		a.log.Warn("upstream refused a fresh token", zap.String("method", r.Method), zap.String("scope", key),
			zap.String("challenge", resp.Header.Get("WWW-Authenticate")))
	}
	a.check(resp, err, ch)
	return resp, err
}

// ping returns the upstream's /v2/ challenge, asking only once: the answer
// is kept until a request shows it is stale (check).
func (a *UpstreamAuth) ping(ctx context.Context) (*transport.Challenge, error) {
	a.mu.Lock()
	ch := a.challenge
	a.mu.Unlock()
	if ch != nil {
		return ch, nil
	}
	v, err, _ := a.pings.Do("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authTimeout)
		defer cancel()
		guard := &schemeOnly{base: a.base, scheme: a.up.Scheme}
		ch, err := transport.Ping(ctx, a.reg, guard)
		if err != nil {
			return nil, fmt.Errorf("ping %s/v2/: %w", a.up, guard.cause(err))
		}
		a.mu.Lock()
		a.challenge = ch
		a.mu.Unlock()
		a.log.Info("upstream authentication", zap.String("upstream", a.up.String()), zap.String("scheme", schemeName(ch)),
			zap.String("realm", ch.Parameters["realm"]), zap.String("service", ch.Parameters["service"]))
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*transport.Challenge), nil
}

// check forgets the ping after a network failure or when a 401 names a
// scheme other than the one in use, so the next request asks again.
func (a *UpstreamAuth) check(resp *http.Response, err error, ch *transport.Challenge) {
	stale := err != nil
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		scheme, _, _ := strings.Cut(strings.TrimSpace(resp.Header.Get("WWW-Authenticate")), " ")
		stale = !strings.EqualFold(scheme, ch.Scheme)
	}
	if stale {
		a.mu.Lock()
		if a.challenge == ch {
			a.challenge = nil
		}
		a.mu.Unlock()
	}
}

// token returns a cached token for key or exchanges the gateway's
// credentials for one; concurrent misses for one key share one exchange.
func (a *UpstreamAuth) token(ctx context.Context, ch *transport.Challenge, key string, scopes []string) (string, error) {
	if t, ok := a.tokens.Get(key); ok && a.now().Before(t.refreshAt) {
		return t.value, nil
	}
	v, err, _ := a.exchanges.Do(key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authTimeout)
		defer cancel()
		issued := a.now()
		tok, err := transport.Exchange(ctx, a.reg, a.user, a.base, scopes, ch)
		if err != nil {
			a.check(nil, err, ch) // the realm may have moved: ping again next time
			var te *transport.Error
			if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
				return nil, fmt.Errorf("%w: token service %s: %v", errUpstreamAuth, ch.Parameters["realm"], err)
			}
			return nil, fmt.Errorf("token for scope %q from %s: %w", key, ch.Parameters["realm"], err)
		}
		if tok.Token == "" { // transport.Exchange leaves an access_token-only answer here
			tok.Token = tok.AccessToken
		}
		life := time.Duration(tok.ExpiresIn) * time.Second
		if life <= 0 {
			life = defaultTokenLifetime
		}
		a.tokens.Add(key, cachedToken{value: tok.Token, refreshAt: issued.Add(life - min(life/10, maxRefreshMargin))})
		a.log.Debug("upstream token", zap.String("scope", key), zap.Duration("expires_in", life))
		return tok.Token, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func withBearer(r *http.Request, tok string) *http.Request {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// replay returns a copy of r to send again: possible without a body, or
// when the body can be produced again (GetBody).
func replay(r *http.Request) (*http.Request, bool) {
	c := r.Clone(r.Context())
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		return c, true
	case r.GetBody != nil:
		b, err := r.GetBody()
		if err != nil {
			return nil, false
		}
		c.Body = b
		return c, true
	}
	return nil, false
}

func schemeName(ch *transport.Challenge) string {
	if ch.Scheme == "" {
		return "none"
	}
	return strings.ToLower(ch.Scheme)
}

// schemeOnly refuses requests in the other scheme: transport.Ping tries
// https and http for loopback and private hosts, and the gateway must talk
// exactly the scheme the operator configured (never plain http to an https
// upstream). It keeps the configured scheme's failure, which is the one
// worth reporting.
type schemeOnly struct {
	base   http.RoundTripper
	scheme string

	mu  sync.Mutex
	err error
}

func (s *schemeOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != s.scheme {
		return nil, fmt.Errorf("not trying %s: upstream.url is %s", r.URL.Scheme, s.scheme)
	}
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return resp, err
}

// cause picks, from Ping's joined errors, the network failure or the
// registry's error answer in the configured scheme.
func (s *schemeOnly) cause(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var te *transport.Error
	switch {
	case s.err != nil:
		return s.err
	case errors.As(err, &te):
		return te
	}
	return err
}
