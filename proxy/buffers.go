package proxy

import (
	"net/http/httputil"
	"sync"
)

// bufferPool lends ReverseProxy its copy buffers, which it would otherwise allocate (32 KiB)
// for every request. It pools the buffers' arrays, not slices: a slice converts back to its
// array pointer without allocating, where boxing a slice for sync.Pool would allocate on
// every Put.
type bufferPool struct{ p sync.Pool }

var _ httputil.BufferPool = (*bufferPool)(nil)

const copyBufferSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}
}

func (bp *bufferPool) Get() []byte { return bp.p.Get().(*[copyBufferSize]byte)[:] }

func (bp *bufferPool) Put(b []byte) {
	if cap(b) != copyBufferSize {
		return
	}
	bp.p.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
}
