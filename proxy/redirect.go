package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// DefaultMaxRedirects is how many redirects FollowRedirects follows for one
// request when MaxHops is zero.
const DefaultMaxRedirects = 5

// FollowRedirects is the RoundTripper for [upstream] follow_redirects =
// true: when the upstream answers a GET or HEAD with a redirect (a blob on
// object storage, a CDN, or another path of its own), the gateway fetches
// the target itself and returns that answer, so the client sees 200 and the
// bytes and never needs to reach the storage. The targets are fetched
// through Direct with the client's request headers but without any
// Authorization or Cookie, and never with the gateway's upstream
// credentials, even on the upstream's own host: a redirect URL carries its
// own authorisation (a signature), and a credential sent to the wrong
// place is a leak. Other methods, and the redirect without this wrapper,
// reach the client untouched.
type FollowRedirects struct {
	// Next sends the request to the upstream (with the gateway's
	// credentials). Required.
	Next http.RoundTripper
	// Direct fetches redirect targets; it must add no credentials.
	// Required.
	Direct http.RoundTripper
	// MaxHops bounds the redirects followed for one request; zero means
	// DefaultMaxRedirects.
	MaxHops int
}

var _ http.RoundTripper = (*FollowRedirects)(nil)

// RoundTrip implements http.RoundTripper.
func (f *FollowRedirects) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.Next.RoundTrip(r)
	if err != nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return resp, err
	}
	maxHops := f.MaxHops
	if maxHops <= 0 {
		maxHops = DefaultMaxRedirects
	}
	from := r.URL
	for hops := 0; isRedirect(resp.StatusCode); hops++ {
		loc := resp.Header.Get("Location")
		if loc == "" {
			return resp, nil
		}
		target, perr := from.Parse(loc)
		drain(resp)
		switch {
		case perr != nil:
			return nil, fmt.Errorf("upstream redirect to an invalid Location: %w", perr)
		case target.Scheme != "http" && target.Scheme != "https":
			return nil, fmt.Errorf("upstream redirect to unsupported scheme %q", target.Scheme)
		case hops == maxHops:
			return nil, fmt.Errorf("upstream redirected %s more than %d times", r.URL.Path, maxHops)
		}
		digest := resp.Header.Get("Docker-Content-Digest")
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), nil)
		if err != nil {
			return nil, err
		}
		for k, vs := range r.Header {
			req.Header[k] = append([]string(nil), vs...)
		}
		req.Header.Del("Authorization")
		req.Header.Del("Proxy-Authorization")
		req.Header.Del("Cookie")
		if resp, err = f.Direct.RoundTrip(req); err != nil {
			// The query of a signed URL is a credential: keep it out of logs.
			return nil, fmt.Errorf("following upstream redirect to %s: %w", redacted(target), err)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			// Not the gateway's credentials being refused: say so, rather
			// than let the 401 read as an upstream-auth failure.
			drain(resp)
			return nil, fmt.Errorf("upstream redirect target %s answered 401", redacted(target))
		}
		if digest != "" && resp.Header.Get("Docker-Content-Digest") == "" {
			resp.Header.Set("Docker-Content-Digest", digest)
		}
		from = target
	}
	return resp, nil
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// drain reads a little of a discarded body so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func redacted(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
