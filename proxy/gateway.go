package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/robotgate/robotgate/accounts"
	"github.com/robotgate/robotgate/policy"
)

// Authenticator checks Basic credentials.
type Authenticator interface {
	Authenticate(ctx context.Context, user, pass string) (*accounts.Account, error)
}

var _ Authenticator = (*accounts.Authenticator)(nil)

// Options configure a Gateway.
type Options struct {
	// Upstream is the registry's base URL (scheme and host only).
	Upstream *url.URL
	// Transport reaches the upstream and adds the gateway's own upstream
	// credentials; nil means a default streaming transport without any.
	Transport     http.RoundTripper
	Authenticator Authenticator
	Policy        *policy.Policy
	// Realm is the Basic realm of every 401 challenge.
	Realm string
	// WarnBefore: accounts expiring within it get a Warning header; zero
	// disables the warning.
	WarnBefore time.Duration
	// Logger receives the audit lines; nil discards them.
	Logger *zap.Logger
}

// Gateway is the http.Handler in front of the upstream registry.
type Gateway struct {
	opts    Options
	rp      *httputil.ReverseProxy
	client  *http.Client // for requests the gateway makes itself (_catalog)
	log     *zap.Logger
	now     func() time.Time
	warner  *expiryWarner
	started time.Time
}

// New builds a gateway.
func New(o Options) (*Gateway, error) {
	if o.Upstream == nil || o.Upstream.Host == "" {
		return nil, errors.New("proxy: upstream URL is required")
	}
	if o.Authenticator == nil || o.Policy == nil {
		return nil, errors.New("proxy: authenticator and policy are required")
	}
	if o.Transport == nil {
		o.Transport = NewTransport(TransportOptions{})
	}
	if o.Realm == "" {
		o.Realm = "robotgate"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	g := &Gateway{opts: o, log: o.Logger, now: time.Now, started: time.Now()}
	g.client = &http.Client{Transport: o.Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	g.warner = newExpiryWarner(o.WarnBefore, o.Logger)
	g.rp = g.newReverseProxy()
	return g, nil
}

// ServeHTTP checks a request in SPEC order (route, name, credentials,
// grant) and forwards it only when every check passed.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := g.begin(w, r)
	defer rec.finish()

	rt, perr := ParseRoute(r.Method, r.URL.EscapedPath())
	if perr != nil {
		rec.deny(perr.Error())
		writeError(rec, r, g.opts.Realm, perr)
		return
	}
	rec.route(rt)

	subject, acct, aerr := g.authenticate(r)
	if aerr != nil {
		if c := readCredentials(r); c.ok {
			rec.note("attempted_user", c.user)
		}
		rec.deny(aerr.Message)
		writeError(rec, r, g.opts.Realm, aerr)
		return
	}
	if acct != nil {
		rec.account(acct.Name)
		g.warner.warn(rec.Header(), acct, g.now())
	}
	d := g.opts.Policy.Decide(subject, rt.Access())
	if !d.Allowed {
		rec.deny(d.Reason)
		if subject == nil {
			writeError(rec, r, g.opts.Realm, newError(CodeUnauthorized, "authentication required to %s %s", rt.Action, orBase(rt.Repository)))
			return
		}
		writeError(rec, r, g.opts.Realm, newError(CodeDenied, "%s", d.Reason))
		return
	}
	rec.allow(d.Reason)

	query := r.URL.Query()
	switch rt.Endpoint {
	case policy.EndpointCatalog:
		g.serveCatalog(rec, r, subject)
		return
	case policy.EndpointUploadStart:
		if query.Has("mount") || query.Has("from") {
			rec.note("mount_from", query.Get("from"))
		}
		if dropped := g.checkMount(subject, query); dropped != "" {
			rec.note("mount_dropped", dropped)
		}
	}
	g.forward(rec, r, rt, query)
}

func orBase(repo string) string {
	if repo == "" {
		return "the registry"
	}
	return repo
}

// authenticate returns the subject (nil: anonymous) or the 401 to send.
// Bcrypt is spent only on requests whose route and name were valid.
func (g *Gateway) authenticate(r *http.Request) (*policy.Subject, *accounts.Account, *Error) {
	c := readCredentials(r)
	if !c.present {
		return nil, nil, nil
	}
	if !c.ok {
		return nil, nil, newError(CodeUnauthorized, "only Basic credentials are accepted")
	}
	acct, err := g.opts.Authenticator.Authenticate(r.Context(), c.user, c.pass)
	var ae *accounts.AccountError
	switch {
	case err == nil:
		return acct.Subject(), acct, nil
	case errors.As(err, &ae) && errors.Is(err, accounts.ErrDisabled):
		return nil, nil, newError(CodeUnauthorized, "account %s is disabled", ae.Account.Name)
	case errors.As(err, &ae) && errors.Is(err, accounts.ErrExpired):
		return nil, nil, newError(CodeUnauthorized, "account %s expired on %s", ae.Account.Name, ae.Account.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil, nil, newError(CodeUnauthorized, "%s", accounts.ErrInvalidCredentials.Error())
}

// checkMount drops mount and from from a cross-repository mount unless the
// subject may pull from the source (distribution's authorized() asks the
// same): otherwise a push grant anywhere would read blobs from everywhere.
// The registry then starts a plain upload (202). It returns why it dropped.
func (g *Gateway) checkMount(s *policy.Subject, q url.Values) string {
	if !q.Has("mount") && !q.Has("from") {
		return ""
	}
	from := q.Get("from")
	reason := ""
	switch {
	case len(q["from"]) != 1 || len(q["mount"]) != 1:
		reason = "mount needs exactly one mount and one from"
	case !validName(from):
		reason = "invalid from repository"
	case !validDigest(q.Get("mount")):
		reason = "invalid mount digest"
	default:
		d := g.opts.Policy.Decide(s, policy.Access{Repository: from, Namespace: policy.NamespaceOf(from), Action: policy.ActionPull})
		if d.Allowed {
			return ""
		}
		reason = fmt.Sprintf("no pull on %s", from)
	}
	q.Del("mount")
	q.Del("from")
	return reason
}
