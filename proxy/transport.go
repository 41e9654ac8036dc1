package proxy

import (
	"crypto/tls"
	"net/http"
	"time"
)

// TransportOptions tune the connection to the upstream.
type TransportOptions struct {
	// TLS for an https upstream; nil uses the system roots.
	TLS *tls.Config
}

// ResponseHeaderTimeout bounds the wait for the upstream's answer after the
// request was sent; bodies themselves have no deadline, so a long upload or
// download is never cut.
const ResponseHeaderTimeout = 5 * time.Minute

// NewTransport clones http.DefaultTransport for streaming to a registry:
// header timeouts, no whole-request deadline, HTTP/1.1, and no transparent
// compression (a blob's bytes are its digest; gzip negotiated by the
// transport would be undone behind the client's back).
func NewTransport(o TransportOptions) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.ResponseHeaderTimeout = ResponseHeaderTimeout
	t.ExpectContinueTimeout = time.Second
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	if o.TLS != nil {
		t.TLSClientConfig = o.TLS
	}
	return t
}

// BasicAuth adds the gateway's own Basic credentials to requests for one
// host only, so a redirect to object storage never carries them (as
// go-containerregistry's basicTransport does).
type BasicAuth struct {
	Base               http.RoundTripper
	Host               string
	Username, Password string
}

// RoundTrip implements http.RoundTripper.
func (b *BasicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == b.Host && b.Username != "" {
		r = r.Clone(r.Context())
		r.SetBasicAuth(b.Username, b.Password)
	}
	return b.Base.RoundTrip(r)
}
