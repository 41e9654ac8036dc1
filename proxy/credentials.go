package proxy

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// credentials are what the client sent in Authorization.
type credentials struct {
	present bool // an Authorization header was sent at all
	ok      bool // it was well-formed Basic
	user    string
	pass    string
}

// readCredentials parses a Basic Authorization header. Any other scheme, or
// a malformed one, is present but not ok: it is refused, never treated as
// anonymous.
func readCredentials(r *http.Request) credentials {
	h := r.Header.Get("Authorization")
	if h == "" {
		return credentials{}
	}
	scheme, payload, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return credentials{present: true}
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return credentials{present: true}
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found || user == "" {
		return credentials{present: true}
	}
	return credentials{present: true, ok: true, user: user, pass: pass}
}
