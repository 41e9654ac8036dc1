package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clLargeSize is the size of the layer TestClientLargeLayerResumedPull
// pushes: 1 GiB, odd-sized so no chunk boundary lines up by luck.
const clLargeSize = 1<<30 + 4099

// TestClientLargeLayerResumedPull pushes a 1 GiB layer with oras, then
// downloads it like an interrupted client would: a GET that stops after
// about half, and a second GET with Range: bytes=N- for the rest. The
// sha256 of the reassembled bytes must be the layer's digest. The layer
// comes from a seeded PRNG stream and is never held in memory; the test
// also checks the gateway did not buffer it (its peak RSS stays small).
func TestClientLargeLayerResumedPull(t *testing.T) {
	t.Parallel()
	clTimer(t)
	oras := clTool(t, "oras")
	f := clStart(t)
	ci := newClEnv(t)

	// The file, the registry's copy and its upload temp file: ~3 GiB.
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(ci.Dir, &st))
	free := st.Bavail * uint64(st.Bsize)
	require.Greater(t, free, uint64(4<<30), "need 4 GiB free under %s for the 1 GiB layer test, have %d MiB", ci.Dir, free>>20)

	work := filepath.Join(ci.Dir, "work")
	require.NoError(t, os.MkdirAll(work, 0o700))
	layer := filepath.Join(work, "big.bin")
	start := time.Now()
	digest := clWritePRNG(t, layer, clLargeSize, 20261203)
	t.Logf("generated %d bytes (%s) in %s", int64(clLargeSize), digest, time.Since(start).Round(time.Millisecond))

	ci.must("", f.rwPass, oras, "login", "--plain-http", "-u", f.rwUser, "--password-stdin", f.g.Addr)
	start = time.Now()
	ref := f.ref("team-a/large/blob:v1")
	ci.must(work, "", oras, "push", "--plain-http", "--artifact-type", "application/vnd.example.large.v1", ref, "big.bin:application/octet-stream")
	t.Logf("oras pushed 1 GiB through the gateway in %s", time.Since(start).Round(time.Millisecond))
	require.NoError(t, os.Remove(layer), "free the disk early")

	_, body := f.manifest(t, f.rwUser, f.rwPass, "team-a/large/blob", "v1")
	var m struct {
		Layers []struct {
			Digest string
			Size   int64
		}
	}
	require.NoError(t, json.Unmarshal(body, &m))
	require.Len(t, m.Layers, 1)
	require.Equal(t, digest, m.Layers[0].Digest, "oras computed the digest the test computed")
	require.Equal(t, int64(clLargeSize), m.Layers[0].Size)

	var uploaded int64
	for _, l := range f.audit(t) {
		if (l.Method == http.MethodPut || l.Method == http.MethodPatch) && strings.Contains(l.Path, "/blobs/uploads/") && l.Status < 300 {
			uploaded += l.BytesIn
		}
	}
	require.GreaterOrEqual(t, uploaded, int64(clLargeSize), "the audit log counted the upload")
	hwm := clPeakRSS(t, f.g.cmd.Process.Pid)
	t.Logf("gateway peak RSS after the upload: %d MiB", hwm>>20)
	require.Less(t, hwm, int64(512<<20), "the gateway streams uploads; it must not hold the 1 GiB layer")

	// Download: the first GET stops after `half` bytes, the second resumes.
	start = time.Now()
	blobURL := f.g.URL() + "/v2/team-a/large/blob/blobs/" + digest
	h := sha256.New()
	const half = clLargeSize/2 + 777
	resp := clGet(t, f.roUser, f.roPass, blobURL, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, strconv.Itoa(clLargeSize), resp.Header.Get("Content-Length"))
	require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"), "the registry offers ranges through the gateway")
	n, err := io.CopyN(h, resp.Body, half)
	require.NoError(t, err)
	require.Equal(t, int64(half), n)
	resp.Body.Close() // the interruption

	resp = clGet(t, f.roUser, f.roPass, blobURL, fmt.Sprintf("bytes=%d-", half))
	defer resp.Body.Close()
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", half, clLargeSize-1, clLargeSize), resp.Header.Get("Content-Range"))
	rest, err := io.Copy(h, resp.Body)
	require.NoError(t, err)
	require.Equal(t, int64(clLargeSize-half), rest)
	require.Equal(t, digest, "sha256:"+hex.EncodeToString(h.Sum(nil)), "first part + resumed part = the layer")
	t.Logf("resumed download of 1 GiB in %s", time.Since(start).Round(time.Millisecond))

	hwm = clPeakRSS(t, f.g.cmd.Process.Pid)
	t.Logf("gateway peak RSS after the download: %d MiB", hwm>>20)
	require.Less(t, hwm, int64(512<<20))
}

// clWritePRNG writes size bytes of a seeded pseudo-random stream (AES-CTR
// keyed by the seed: fast, and the same bytes for the same seed) to path
// and returns their digest, one 1 MiB buffer at a time.
func clWritePRNG(t testing.TB, path string, size int64, seed uint64) string {
	t.Helper()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	block, err := aes.NewCipher(key[:])
	require.NoError(t, err)
	src := cipher.StreamReader{S: cipher.NewCTR(block, make([]byte, aes.BlockSize)), R: clZeros{}}
	fh, err := os.Create(path)
	require.NoError(t, err)
	defer fh.Close()
	h := sha256.New()
	_, err = io.CopyBuffer(io.MultiWriter(fh, h), io.LimitReader(src, size), make([]byte, 1<<20))
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// clZeros reads as an endless run of zero bytes (the plaintext of the
// key stream).
type clZeros struct{}

func (clZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// clGet starts a GET with Basic credentials (and a Range, when set) and
// returns the response with its body unread.
func clGet(t testing.TB, user, pass, url, rng string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	// No transparent gzip: the byte offsets are those of the blob itself.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableCompression = true
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	return resp
}

// clPeakRSS reads VmHWM (peak resident set) of a process from /proc.
func clPeakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
