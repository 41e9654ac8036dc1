package e2e

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seededLayer is an uncompressed layer whose bytes come from a seeded PRNG,
// so gigabytes never sit in memory and every read yields the same bytes.
type seededLayer struct {
	seed   int64
	size   int64
	digest v1.Hash
}

func newSeededLayer(t testing.TB, seed, size int64) *seededLayer {
	l := &seededLayer{seed: seed, size: size}
	h := sha256.New()
	_, err := io.Copy(h, l.reader())
	require.NoError(t, err)
	l.digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
	return l
}

func (l *seededLayer) reader() io.Reader {
	return io.LimitReader(rand.New(rand.NewSource(l.seed)), l.size) //nolint:gosec // test data, not secrets
}

func (l *seededLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *seededLayer) DiffID() (v1.Hash, error)            { return l.digest, nil }
func (l *seededLayer) Size() (int64, error)                { return l.size, nil }
func (l *seededLayer) MediaType() (types.MediaType, error) { return types.OCIUncompressedLayer, nil }
func (l *seededLayer) Compressed() (io.ReadCloser, error)  { return io.NopCloser(l.reader()), nil }
func (l *seededLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(l.reader()), nil
}

// peakRSS reads the high-water mark of a process's resident memory, in
// bytes, and resets it (writing 5 to clear_refs resets VmHWM on Linux).
func peakRSS(t testing.TB, pid int, reset bool) int64 {
	t.Helper()
	if reset {
		require.NoError(t, os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0))
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestLargeLayerStreams pushes and pulls a 256 MiB layer through the
// gateway and checks the gateway's peak memory grew by far less than the
// layer: bodies are streamed, never buffered.
func TestLargeLayerStreams(t *testing.T) {
	const size = 256 << 20
	g := StartGateway(t, GatewayOptions{})
	user, pass := g.CreateAccount("big", "--grant", "big=rw")
	auth := remote.WithAuth(basic(user, pass))

	// Warm up: one small push so pools and the embedded registry are hot.
	small := newSeededLayer(t, 2, 1<<20)
	warm, err := mutate.AppendLayers(empty.Image, small)
	require.NoError(t, err)
	ref, err := name.ParseReference(g.Addr+"/big/layer:warm", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, warm, auth))

	layer := newSeededLayer(t, 1, size)
	img, err := mutate.AppendLayers(empty.Image, layer)
	require.NoError(t, err)
	ref, err = name.ParseReference(g.Addr+"/big/layer:v1", name.Insecure)
	require.NoError(t, err)

	pid := g.cmd.Process.Pid
	before := peakRSS(t, pid, true)
	require.NoError(t, remote.Write(ref, img, auth))

	dref, err := name.NewDigest(g.Addr+"/big/layer@"+layer.digest.String(), name.Insecure)
	require.NoError(t, err)
	pulled, err := remote.Layer(dref, auth)
	require.NoError(t, err)
	rc, err := pulled.Compressed()
	require.NoError(t, err)
	h := sha256.New()
	n, err := io.Copy(h, rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	after := peakRSS(t, pid, false)

	assert.Equal(t, int64(size), n)
	assert.Equal(t, layer.digest.Hex, fmt.Sprintf("%x", h.Sum(nil)), "pulled bytes match the pushed digest")
	growth := after - before
	t.Logf("gateway+embedded registry peak RSS: %d MiB before, %d MiB after a %d MiB push+pull (growth %d MiB, %.1f%% of the layer)",
		before>>20, after>>20, size>>20, growth>>20, 100*float64(growth)/size)
	assert.Less(t, growth, int64(size/8), "peak memory grew by more than 1/8 of the layer: something buffers")
}
