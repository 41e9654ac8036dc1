package proxy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/robotgate/robotgate/policy"
)

const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRoute(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		endpoint policy.Endpoint
		action   policy.Action
		repo     string
		ref      string
		code     Code // non-zero: refused with this code
	}{
		{"base", "GET", "/v2/", policy.EndpointBase, policy.ActionLogin, "", "", 0},
		{"base HEAD", "HEAD", "/v2/", policy.EndpointBase, policy.ActionLogin, "", "", 0},
		{"base without slash", "GET", "/v2", policy.EndpointBase, policy.ActionLogin, "", "", 0},
		{"catalog", "GET", "/v2/_catalog", policy.EndpointCatalog, policy.ActionLogin, "", "", 0},
		{"manifest by tag", "GET", "/v2/team-a/app/manifests/v1.0", policy.EndpointManifest, policy.ActionPull, "team-a/app", "v1.0", 0},
		{"manifest by digest", "HEAD", "/v2/team-a/app/manifests/" + dgst, policy.EndpointManifest, policy.ActionPull, "team-a/app", dgst, 0},
		{"manifest put", "PUT", "/v2/a/b/c/manifests/latest", policy.EndpointManifest, policy.ActionPush, "a/b/c", "latest", 0},
		{"manifest delete", "DELETE", "/v2/a/manifests/" + dgst, policy.EndpointManifest, policy.ActionDelete, "a", dgst, 0},
		{"blob", "GET", "/v2/a/b/blobs/" + dgst, policy.EndpointBlob, policy.ActionPull, "a/b", dgst, 0},
		{"blob delete", "DELETE", "/v2/a/blobs/" + dgst, policy.EndpointBlob, policy.ActionDelete, "a", dgst, 0},
		{"upload start", "POST", "/v2/a/b/blobs/uploads/", policy.EndpointUploadStart, policy.ActionPush, "a/b", "", 0},
		{"upload patch", "PATCH", "/v2/a/blobs/uploads/5f1c-9a", policy.EndpointUpload, policy.ActionPush, "a", "5f1c-9a", 0},
		{"upload put", "PUT", "/v2/a/blobs/uploads/abc", policy.EndpointUpload, policy.ActionPush, "a", "abc", 0},
		{"upload status", "GET", "/v2/a/blobs/uploads/abc", policy.EndpointUpload, policy.ActionPush, "a", "abc", 0},
		{"upload cancel", "DELETE", "/v2/a/blobs/uploads/abc", policy.EndpointUpload, policy.ActionPush, "a", "abc", 0},
		{"tags", "GET", "/v2/a/b/tags/list", policy.EndpointTags, policy.ActionPull, "a/b", "", 0},
		{"referrers", "GET", "/v2/a/referrers/" + dgst, policy.EndpointReferrers, policy.ActionPull, "a", dgst, 0},
		{"repo named like a route word", "GET", "/v2/manifests/blobs/manifests/x", policy.EndpointManifest, policy.ActionPull, "manifests/blobs", "x", 0},
		{"escaped colon in digest", "GET", "/v2/a/blobs/sha256%3A" + dgst[7:], policy.EndpointBlob, policy.ActionPull, "a", dgst, 0},

		{"not under v2", "GET", "/v1/_ping", 0, 0, "", "", CodeNotFound},
		{"root", "GET", "/", 0, 0, "", "", CodeNotFound},
		{"debug vars", "GET", "/debug/vars", 0, 0, "", "", CodeNotFound},
		{"unknown route", "GET", "/v2/a/whatever", 0, 0, "", "", CodeNotFound},
		{"trailing slash on manifest", "GET", "/v2/a/manifests/v1/", 0, 0, "", "", CodeNotFound},
		{"trailing slash on tags", "GET", "/v2/a/tags/list/", 0, 0, "", "", CodeNotFound},
		{"trailing slash on upload", "PATCH", "/v2/a/blobs/uploads/abc/", 0, 0, "", "", CodeNotFound},
		{"unknown method", "PROPFIND", "/v2/a/manifests/v1", 0, 0, "", "", CodeMethodNotAllowed},
		{"post to manifest", "POST", "/v2/a/manifests/v1", 0, 0, "", "", CodeMethodNotAllowed},
		{"put to blob", "PUT", "/v2/a/blobs/" + dgst, 0, 0, "", "", CodeMethodNotAllowed},
		{"post to base", "POST", "/v2/", 0, 0, "", "", CodeMethodNotAllowed},
		{"delete catalog", "DELETE", "/v2/_catalog", 0, 0, "", "", CodeMethodNotAllowed},
		{"method checked before name", "PATCH", "/v2/A/manifests/v1", 0, 0, "", "", CodeMethodNotAllowed},
		{"dot dot", "GET", "/v2/team-a/../team-b/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"single dot", "GET", "/v2/team-a/./x/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"escaped slash", "GET", "/v2/team-a%2F..%2Fteam-b/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"escaped slash lower", "GET", "/v2/team-a%2fx/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"escaped slash alone", "GET", "/v2/team-a%2Fx/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"escaped slash in tag", "GET", "/v2/team-a/manifests/v1%2F..", 0, 0, "", "", CodeNameInvalid},
		{"double slash", "GET", "/v2/team-a//x/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"leading slash", "GET", "/v2//team-a/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"upper case", "GET", "/v2/Team-A/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"bad escape", "GET", "/v2/a%zz/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"too long", "GET", "/v2/" + strings.Repeat("a", 256) + "/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"separator at end", "GET", "/v2/team-/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"underscore catalog as name", "GET", "/v2/_catalog/manifests/v1", 0, 0, "", "", CodeNameInvalid},
		{"bad tag", "GET", "/v2/a/manifests/-v1", 0, 0, "", "", CodeNameInvalid},
		{"tag too long", "GET", "/v2/a/manifests/" + strings.Repeat("t", 129), 0, 0, "", "", CodeNameInvalid},
		{"bad digest", "GET", "/v2/a/blobs/sha256:xyz", 0, 0, "", "", CodeDigestInvalid},
		{"short sha256", "GET", "/v2/a/blobs/sha256:abcd", 0, 0, "", "", CodeDigestInvalid},
		{"upper hex", "GET", "/v2/a/blobs/sha256:" + strings.ToUpper(dgst[7:]), 0, 0, "", "", CodeDigestInvalid},
		{"manifest bad digest", "GET", "/v2/a/manifests/sha256:zz", 0, 0, "", "", CodeDigestInvalid},
		{"referrers by tag", "GET", "/v2/a/referrers/latest", 0, 0, "", "", CodeDigestInvalid},
		{"upload id with escaped slash", "PATCH", "/v2/a/blobs/uploads/x%2F..", 0, 0, "", "", CodeNameInvalid},
		{"escaped slash with wrong method", "PATCH", "/v2/a%2Fb/manifests/v1", 0, 0, "", "", CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := ParseRoute(tt.method, tt.path)
			if tt.code != 0 {
				require.NotNil(t, err, "route %+v", rt)
				assert.Equal(t, tt.code, err.Code, err.Error())
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tt.endpoint, rt.Endpoint)
			assert.Equal(t, tt.action, rt.Action)
			assert.Equal(t, tt.repo, rt.Repository)
			assert.Equal(t, tt.ref, rt.Reference)
			if tt.repo != "" {
				assert.Equal(t, strings.Split(tt.repo, "/")[0], rt.Namespace)
			}
		})
	}
}

// TestRoutePathIsCanonical: what goes upstream is rebuilt from validated
// parts, so an escaped colon arrives as the plain digest.
func TestRoutePathIsCanonical(t *testing.T) {
	rt, err := ParseRoute("GET", "/v2/a/b/blobs/sha256%3A"+dgst[7:])
	require.Nil(t, err)
	assert.Equal(t, "/v2/a/b/blobs/"+dgst, rt.Path())
	for _, p := range []string{"/v2/", "/v2/_catalog", "/v2/a/manifests/v1", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/id", "/v2/a/tags/list", "/v2/a/referrers/" + dgst} {
		m := map[string]string{"/v2/a/blobs/uploads/": "POST", "/v2/a/blobs/uploads/id": "PATCH"}[p]
		if m == "" {
			m = "GET"
		}
		rt, err := ParseRoute(m, p)
		require.Nil(t, err, p)
		assert.Equal(t, p, rt.Path())
	}
}

func TestMethodNotAllowedListsAllow(t *testing.T) {
	_, err := ParseRoute("POST", "/v2/a/manifests/v1")
	require.NotNil(t, err)
	assert.Equal(t, []string{"GET", "HEAD", "PUT", "DELETE"}, err.Allow)
	assert.Equal(t, 405, err.Status())
}
