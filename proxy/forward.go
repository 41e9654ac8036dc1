package proxy

import (
	"context"
	"errors"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

type targetKey struct{}

// target is what Rewrite sends upstream: the canonical path and the
// sanitised query decided in ServeHTTP.
type target struct {
	path  string
	query string
}

// errUpstreamAuth marks an upstream 401: the gateway's own credentials were
// refused, which is the operator's problem, not the client's.
var errUpstreamAuth = errors.New("upstream refused the gateway's credentials (401)")

func (g *Gateway) newReverseProxy() *httputil.ReverseProxy {
	up := g.opts.Upstream
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(targetKey{}).(target)
			pr.SetURL(up)
			pr.Out.URL.Path = t.path
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = t.query
			// The client's credentials are for the gateway only; the
			// transport adds the gateway's own for the upstream host.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
		},
		Transport:      g.opts.Transport,
		FlushInterval:  -1, // stream blobs as they arrive
		BufferPool:     newBufferPool(),
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.upstreamError,
		ErrorLog:       mustStdLogAt(g.log.Named("reverseproxy")),
	}
}

func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt Route, q url.Values) {
	t := target{path: rt.Path(), query: q.Encode()}
	ctx := context.WithValue(r.Context(), targetKey{}, t)
	g.rp.ServeHTTP(w, r.WithContext(ctx))
}

// modifyResponse points Location and Link back at the gateway and turns an
// upstream 401 into the gateway's 502.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusUnauthorized {
		return errUpstreamAuth
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		resp.Header.Set("Location", g.rewriteURL(loc))
	}
	if links := resp.Header.Values("Link"); len(links) > 0 {
		resp.Header.Del("Link")
		for _, l := range links {
			resp.Header.Add("Link", g.rewriteLink(l))
		}
	}
	return nil
}

// rewriteURL makes a URL on the upstream host relative (path and query),
// so the client resolves it against the gateway whatever name, scheme or
// load balancer it reached us through. URLs on other hosts (object storage,
// CDNs) are left untouched.
func (g *Gateway) rewriteURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || !strings.EqualFold(u.Host, g.opts.Upstream.Host) {
		return raw
	}
	rel := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	return rel.String()
}

// rewriteLink rewrites each <url> of a Link header value.
func (g *Gateway) rewriteLink(v string) string {
	var b strings.Builder
	for {
		start := strings.IndexByte(v, '<')
		end := strings.IndexByte(v, '>')
		if start < 0 || end < start {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:start+1])
		b.WriteString(g.rewriteURL(v[start+1 : end]))
		b.WriteByte('>')
		v = v[end+1:]
	}
}

// upstreamError answers 502 UNAVAILABLE when the upstream cannot be reached
// or refused the gateway's credentials; the cause goes to the log only.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; there is nobody to answer.
		if rec, ok := w.(*recorder); ok {
			rec.note("upstream_error", "client canceled")
		}
		return
	}
	msg := "the upstream registry is unavailable; the gateway's operator can find the cause in its log"
	if errors.Is(err, errUpstreamAuth) {
		msg = "the upstream registry refused the gateway's own credentials; the gateway's operator must fix [upstream] username/password"
	}
	if rec, ok := w.(*recorder); ok {
		rec.note("upstream_error", err.Error())
	}
	g.log.Warn("upstream request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	writeError(w, r, g.opts.Realm, &Error{Code: CodeUnavailable, Message: msg})
}

// mustStdLogAt routes ReverseProxy's own messages (a body copy cut by the
// upstream, for one) to zap at warn: they are faults an operator should see.
func mustStdLogAt(l *zap.Logger) *log.Logger {
	std, err := zap.NewStdLogAt(l, zap.WarnLevel)
	if err != nil {
		return zap.NewStdLog(l)
	}
	return std
}
