package proxy

import "sync"

// copyBufferSize is the chunk the reverse proxy copies bodies in. Blobs are
// large and sequential; 256 KiB buffers take an eighth of the read/write
// calls that ReverseProxy's default 32 KiB ones do, and the pool keeps the
// memory flat however many transfers run.
const copyBufferSize = 256 << 10

// bufferPool implements httputil.BufferPool over a sync.Pool.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}}
}

func (p *bufferPool) Get() []byte  { return *(p.pool.Get().(*[]byte)) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
