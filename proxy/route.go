package proxy

import (
	"net/url"
	"strings"

	"github.com/robotgate/robotgate/policy"
)

// Route is a parsed registry request: which endpoint, on which repository,
// with which reference, and the action it needs.
type Route struct {
	Endpoint   policy.Endpoint
	Action     policy.Action
	Repository string // empty for base and catalog
	Namespace  string
	// Reference is the tag or digest of manifests, the digest of blobs and
	// referrers, the session id of uploads.
	Reference string
}

// Path is the canonical upstream path of the route: exactly what was
// authorised, rebuilt from validated parts, never the raw client path.
func (rt Route) Path() string {
	switch rt.Endpoint {
	case policy.EndpointBase:
		return "/v2/"
	case policy.EndpointCatalog:
		return "/v2/_catalog"
	case policy.EndpointManifest:
		return "/v2/" + rt.Repository + "/manifests/" + rt.Reference
	case policy.EndpointBlob:
		return "/v2/" + rt.Repository + "/blobs/" + rt.Reference
	case policy.EndpointUploadStart:
		return "/v2/" + rt.Repository + "/blobs/uploads/"
	case policy.EndpointUpload:
		return "/v2/" + rt.Repository + "/blobs/uploads/" + rt.Reference
	case policy.EndpointTags:
		return "/v2/" + rt.Repository + "/tags/list"
	case policy.EndpointReferrers:
		return "/v2/" + rt.Repository + "/referrers/" + rt.Reference
	}
	return ""
}

// Access is what policy must allow for the route.
func (rt Route) Access() policy.Access {
	return policy.Access{Repository: rt.Repository, Namespace: rt.Namespace, Action: rt.Action}
}

// ParseRoute maps a method and the raw, escaped request path to a route,
// in the order SPEC section 4 gives: the route and method first (404,
// 405), then the name and reference (400). Segments are matched from the
// end because repository names contain "/". A percent-escaped "/" inside a
// segment, an empty segment ("//"), "..", upper case and over-long names
// never match the name grammar, so they are refused here, before any
// credential is looked at.
func ParseRoute(method, escapedPath string) (Route, *Error) {
	if escapedPath == "/v2/" || escapedPath == "/v2" {
		return withAction(Route{Endpoint: policy.EndpointBase}, method)
	}
	rest, ok := strings.CutPrefix(escapedPath, "/v2/")
	if !ok {
		return Route{}, newError(CodeNotFound, "the gateway serves only the registry API under /v2/")
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	var badSegment *Error // reported after the route and method checks
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		switch {
		case err != nil:
			badSegment = newError(CodeNameInvalid, "invalid escape in path segment %q", s)
		case strings.Contains(d, "/"):
			// %2F would smuggle a "/" past the segment split.
			badSegment = newError(CodeNameInvalid, "escaped '/' (%%2F) in path segment %q", s)
		}
		segs[i] = d
	}
	n := len(segs)
	var rt Route
	var name []string
	switch {
	case n == 1 && segs[0] == "_catalog":
		return withAction(Route{Endpoint: policy.EndpointCatalog}, method)
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		rt, name = Route{Endpoint: policy.EndpointTags}, segs[:n-2]
	case n >= 3 && segs[n-2] == "manifests":
		rt, name = Route{Endpoint: policy.EndpointManifest, Reference: segs[n-1]}, segs[:n-2]
	case n >= 3 && segs[n-2] == "referrers":
		rt, name = Route{Endpoint: policy.EndpointReferrers, Reference: segs[n-1]}, segs[:n-2]
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads" && segs[n-1] == "":
		rt, name = Route{Endpoint: policy.EndpointUploadStart}, segs[:n-3]
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		rt, name = Route{Endpoint: policy.EndpointUpload, Reference: segs[n-1]}, segs[:n-3]
	case n >= 3 && segs[n-2] == "blobs":
		rt, name = Route{Endpoint: policy.EndpointBlob, Reference: segs[n-1]}, segs[:n-2]
	default:
		return Route{}, newError(CodeNotFound, "no registry route matches %s", escapedPath)
	}
	rt, err := withAction(rt, method)
	if err != nil {
		return Route{}, err
	}
	if badSegment != nil {
		return Route{}, badSegment
	}
	rt.Repository = strings.Join(name, "/")
	if !validName(rt.Repository) {
		return Route{}, &Error{Code: CodeNameInvalid,
			Message: "invalid repository name: use lower-case path components [a-z0-9] separated by '.', '_', '__', '-' or '/', at most 255 characters",
			Detail:  map[string]string{"name": rt.Repository}}
	}
	rt.Namespace = policy.NamespaceOf(rt.Repository)
	if err := checkReference(rt); err != nil {
		return Route{}, err
	}
	return rt, nil
}

func withAction(rt Route, method string) (Route, *Error) {
	a, ok := policy.ActionFor(rt.Endpoint, method)
	if !ok {
		return Route{}, &Error{Code: CodeMethodNotAllowed,
			Message: method + " is not allowed on the " + rt.Endpoint.String() + " route",
			Allow:   policy.Methods(rt.Endpoint)}
	}
	rt.Action = a
	return rt, nil
}

func checkReference(rt Route) *Error {
	ref := rt.Reference
	switch rt.Endpoint {
	case policy.EndpointManifest:
		if strings.Contains(ref, ":") && !validDigest(ref) {
			return newError(CodeDigestInvalid, "invalid digest %q", ref)
		}
		if !validReference(ref) {
			return newError(CodeNameInvalid, "invalid tag %q: use [A-Za-z0-9_][A-Za-z0-9._-]{0,127}", ref)
		}
	case policy.EndpointBlob, policy.EndpointReferrers:
		if !validDigest(ref) {
			return newError(CodeDigestInvalid, "invalid digest %q", ref)
		}
	case policy.EndpointUpload:
		if !validUploadID(ref) {
			return newError(CodeNotFound, "invalid upload session id")
		}
	}
	return nil
}
