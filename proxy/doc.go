// Package proxy is robotgate's HTTP side: it parses registry routes, reads
// Basic credentials, asks accounts who the client is and policy what it may
// do, then forwards the request exactly as authorised through an
// httputil.ReverseProxy or refuses it with an OCI error (SPEC section 4),
// writing one audit line per request (section 5).
package proxy
