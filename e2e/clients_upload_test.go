package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientChunkedUpload speaks the chunked upload protocol by hand
// through the gateway (OCI distribution spec, "Pushing a blob in chunks"):
// POST, three PATCH with Content-Range, a status GET, PUT ?digest=, then
// GET of the blob. It also shows that a PATCH at the wrong offset gets the
// registry's 416 passed through, and that an account without push cannot
// write into someone else's upload even with its URL.
func TestClientChunkedUpload(t *testing.T) {
	t.Parallel()
	clTimer(t)
	f := clStart(t)
	const repo = "team-a/chunked/blob"
	blob := make([]byte, 3<<20+12345)
	_, err := rand.Read(blob)
	require.NoError(t, err)
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	status, hdr, body := f.do(t, f.rwUser, f.rwPass, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	require.Equal(t, http.StatusAccepted, status, body)
	loc := hdr.Get("Location")
	require.NotEmpty(t, loc)

	chunks := [][2]int{{0, 1<<20 + 7}, {1<<20 + 7, 2<<20 + 100}, {2<<20 + 100, len(blob)}}
	for i, c := range chunks {
		status, hdr, body = f.do(t, f.rwUser, f.rwPass, http.MethodPatch, loc, blob[c[0]:c[1]], map[string]string{
			"Content-Type":  "application/octet-stream",
			"Content-Range": fmt.Sprintf("%d-%d", c[0], c[1]-1),
		})
		require.Equal(t, http.StatusAccepted, status, "chunk %d: %s", i, body)
		require.Equal(t, fmt.Sprintf("0-%d", c[1]-1), hdr.Get("Range"), "chunk %d: the registry has every byte so far", i)
		loc = hdr.Get("Location")
		require.NotEmpty(t, loc)

		if i == 0 {
			// The same upload URL in the hands of a read-only account.
			status, _, body = f.do(t, f.roUser, f.roPass, http.MethodPatch, loc, []byte("intruder"), map[string]string{
				"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", c[1], c[1]+7),
			})
			require.Equal(t, http.StatusForbidden, status)
			require.Contains(t, body, clDenyReadOnly)
		}
	}

	// A chunk that does not start where the upload ends: the registry's
	// 416 comes back as it is, and the upload is unharmed.
	status, _, body = f.do(t, f.rwUser, f.rwPass, http.MethodPatch, loc, []byte("out of order"), map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": "10-21",
	})
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, status, body)

	status, hdr, _ = f.do(t, f.rwUser, f.rwPass, http.MethodGet, loc, nil, nil)
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, fmt.Sprintf("0-%d", len(blob)-1), hdr.Get("Range"))

	put, err := url.Parse(loc)
	require.NoError(t, err)
	q := put.Query()
	q.Set("digest", digest)
	put.RawQuery = q.Encode()
	status, hdr, body = f.do(t, f.rwUser, f.rwPass, http.MethodPut, put.String(), nil, nil)
	require.Equal(t, http.StatusCreated, status, body)
	require.Equal(t, digest, hdr.Get("Docker-Content-Digest"))

	status, hdr, body = f.do(t, f.roUser, f.roPass, http.MethodGet, "/v2/"+repo+"/blobs/"+digest, nil, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, strconv.Itoa(len(blob)), hdr.Get("Content-Length"))
	require.True(t, bytes.Equal(blob, []byte(body)), "blob read back = the three chunks")

	var patched int64
	for _, l := range f.audit(t) {
		if l.Method == http.MethodPatch && l.Account == "tcr$ci" && l.Status == http.StatusAccepted {
			patched += l.BytesIn
		}
	}
	require.Equal(t, int64(len(blob)), patched, "the audit log counts every byte of the chunks")
}

// do sends one request through the gateway with Basic credentials; target
// is a path or a Location the gateway gave (relative or absolute).
func (f *clFixture) do(t testing.TB, user, pass, method, target string, body []byte, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	base, err := url.Parse(f.g.URL() + "/")
	require.NoError(t, err)
	u, err := base.Parse(target)
	require.NoError(t, err)
	require.Equal(t, base.Host, u.Host, "the gateway sends the client back to itself, never to the upstream")
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), r)
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}
