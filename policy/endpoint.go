package policy

import "fmt"

// Endpoint is a route of the registry API (OCI distribution spec, "Endpoints").
type Endpoint int

const (
	EndpointBase        Endpoint = iota + 1 // end-1: /v2/
	EndpointManifest                        // end-3, end-7, end-9: /v2/<name>/manifests/<ref>
	EndpointBlob                            // end-2, end-10: /v2/<name>/blobs/<digest>
	EndpointUploadStart                     // end-4a, end-4b, end-11: /v2/<name>/blobs/uploads/
	EndpointUpload                          // end-5, end-6, end-13: /v2/<name>/blobs/uploads/<id>
	EndpointTags                            // end-8a, end-8b: /v2/<name>/tags/list
	EndpointReferrers                       // end-12a, end-12b: /v2/<name>/referrers/<digest>
	EndpointCatalog                         // /v2/_catalog (not in the OCI spec; distribution's)
)

// String names the endpoint in logs.
func (e Endpoint) String() string {
	switch e {
	case EndpointBase:
		return "base"
	case EndpointManifest:
		return "manifest"
	case EndpointBlob:
		return "blob"
	case EndpointUploadStart:
		return "upload-start"
	case EndpointUpload:
		return "upload"
	case EndpointTags:
		return "tags"
	case EndpointReferrers:
		return "referrers"
	case EndpointCatalog:
		return "catalog"
	}
	return fmt.Sprintf("endpoint(%d)", int(e))
}

// routeTable is SPEC section 4's table: endpoint -> method -> action. A
// method missing from an endpoint's row is refused (405); there is no
// default, so nothing unknown slips through without an action.
var routeTable = map[Endpoint]map[string]Action{
	EndpointBase:        {"GET": ActionLogin},
	EndpointCatalog:     {"GET": ActionLogin},
	EndpointManifest:    {"GET": ActionPull, "PUT": ActionPush, "DELETE": ActionDelete},
	EndpointBlob:        {"GET": ActionPull, "DELETE": ActionDelete},
	EndpointTags:        {"GET": ActionPull},
	EndpointReferrers:   {"GET": ActionPull},
	EndpointUploadStart: {"POST": ActionPush},
	EndpointUpload:      {"GET": ActionPush, "PATCH": ActionPush, "PUT": ActionPush, "DELETE": ActionPush},
}

// ActionFor returns the action a method needs on an endpoint. ok is false
// when the method is not allowed there. HEAD is treated as GET wherever GET
// is allowed.
func ActionFor(e Endpoint, method string) (a Action, ok bool) {
	row, known := routeTable[e]
	if !known {
		return 0, false
	}
	if method == "HEAD" {
		method = "GET"
	}
	a, ok = row[method]
	return a, ok
}

// Methods lists the methods an endpoint allows, for the Allow header.
func Methods(e Endpoint) []string {
	var out []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		if _, ok := ActionFor(e, m); ok {
			out = append(out, m)
		}
	}
	return out
}
