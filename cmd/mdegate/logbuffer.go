package main

import (
	"io"
	"os"
	"sync"
	"time"
)

// Buffered logging. zerolog hands over one whole line per Write; written straight to stdout
// that is one write(2) per forwarded call, about a tenth of the gateway's CPU under load. Like
// nginx's access_log buffer, the lines are gathered in memory and written when the buffer is
// full, at the latest logFlushInterval after the first one, and when the gateway stops. A
// line is never split between two writes nor interleaved with another; one larger than the
// buffer is written alone.
const (
	logBufferSize    = 64 << 10
	logFlushInterval = 100 * time.Millisecond
)

// logBuffer is a concurrency-safe buffered writer over out. It writes through until start,
// and again after stop, so lines logged before the gateway serves or after it stopped are
// never held.
type logBuffer struct {
	out io.Writer

	mu      sync.Mutex // guards the fields below and serialises writes to out
	buf     []byte     // pending lines; nil while not buffering
	stopped chan struct{}
	done    chan struct{} // closed when the flusher has returned
	err     error         // the last failed write to out, returned by the next Write
}

func newLogBuffer(out io.Writer) *logBuffer { return &logBuffer{out: out} }

// buffers reports whether buffering w is worth it: each write to an *os.File (stdout as a
// file, pipe or terminal) is a system call; an in-memory writer (tests) gains nothing.
func buffers(w io.Writer) bool {
	_, ok := w.(*os.File)
	return ok
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		err := b.err
		b.err = nil
		return 0, err
	}
	if b.buf == nil {
		return b.out.Write(p)
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flushLocked()
		if len(p) > cap(b.buf) {
			return b.out.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// flushLocked writes the pending lines. b.mu must be held.
func (b *logBuffer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.out.Write(b.buf); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

// start turns buffering on and starts the flusher. The caller owns it: stop ends it.
func (b *logBuffer) start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		return
	}
	b.buf = make([]byte, 0, logBufferSize)
	b.stopped, b.done = make(chan struct{}), make(chan struct{})
	go b.flusher(b.stopped, b.done)
}

func (b *logBuffer) flusher(stopped <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.mu.Lock()
			b.flushLocked()
			b.mu.Unlock()
		case <-stopped:
			return
		}
	}
}

// stop writes what is pending, stops the flusher and waits for it, and writes through from
// then on. It is a no-op when not buffering.
func (b *logBuffer) stop() {
	b.mu.Lock()
	if b.buf == nil {
		b.mu.Unlock()
		return
	}
	b.flushLocked()
	b.buf = nil
	stopped, done := b.stopped, b.done
	b.mu.Unlock()
	close(stopped)
	<-done
}
