package proxy

import (
	"net/http"
	"slices"
	"strings"

	"github.com/robotgate/robotgate/policy"
)

// RequestScopes names the token scopes an upstream request needs, from its
// canonical method and path (what the gateway authorised and rewrote):
// repository:<name>:pull for reads, pull,push for uploads and manifest
// PUTs (plus pull on a mount's source), delete for DELETE, and
// registry:catalog:* for the catalog. /v2/ needs none.
func RequestScopes(r *http.Request) []string {
	rt, perr := ParseRoute(r.Method, r.URL.EscapedPath())
	if perr != nil {
		return nil
	}
	if rt.Endpoint == policy.EndpointCatalog {
		return []string{"registry:catalog:*"}
	}
	if rt.Repository == "" {
		return nil
	}
	repo := "repository:" + rt.Repository + ":"
	switch rt.Action {
	case policy.ActionPull:
		return []string{repo + "pull"}
	case policy.ActionPush:
		s := []string{repo + "pull,push"}
		if q := r.URL.Query(); rt.Endpoint == policy.EndpointUploadStart && q.Has("mount") && validName(q.Get("from")) && q.Get("from") != rt.Repository {
			s = append(s, "repository:"+q.Get("from")+":pull")
		}
		return s
	case policy.ActionDelete:
		return []string{repo + "delete"}
	}
	return nil
}

func isBearerScheme(s string) bool { return strings.EqualFold(s, "bearer") }

// bearerChallenge parses the first Bearer challenge of an answer
// (Bearer realm="...",service="...",scope="..."; RFC 6750 section 3) into
// its lower-cased parameters.
func bearerChallenge(resp *http.Response) (params map[string]string, ok bool) {
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !isBearerScheme(scheme) {
			continue
		}
		params = map[string]string{}
		for {
			rest = strings.TrimLeft(rest, " ,")
			k, after, found := strings.Cut(rest, "=")
			if !found {
				return params, true
			}
			var val string
			if strings.HasPrefix(after, `"`) {
				end := strings.IndexByte(after[1:], '"')
				if end < 0 {
					return params, true
				}
				val, rest = after[1:1+end], after[2+end:]
			} else {
				val, rest, _ = strings.Cut(after, ",")
			}
			params[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
		}
	}
	return nil, false
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
