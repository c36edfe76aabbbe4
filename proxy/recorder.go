package proxy

import (
	"errors"
	"net/http"
	"os"
	"time"
)

// recorder notes the status and size of what is written to the client, and gives every
// write idle time to complete (arm).
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	idle    time.Duration // write idle timeout; 0: none
	armed   time.Time     // when the write deadline was last moved
	stalled bool          // a write missed its deadline
}

// arm moves the write deadline to idle from now, before a write: an answer whose caller
// accepts no bytes for that long fails its write, ReverseProxy aborts it and closes the
// upstream body, which frees the upstream connection (issue 14, finding 4). A caller that
// reads slowly but steadily is never cut. Moving a deadline costs a timer update, so writes
// within idle/16 of the last move leave it where it is: a caller is cut between 15/16 of idle
// and idle after the last write it accepted.
func (r *recorder) arm() {
	if r.idle <= 0 {
		return
	}
	now := time.Now()
	if now.Sub(r.armed) < r.idle/16 {
		return
	}
	err := http.NewResponseController(r.ResponseWriter).SetWriteDeadline(now.Add(r.idle))
	switch {
	case err == nil:
		r.armed = now
	case errors.Is(err, http.ErrNotSupported):
		r.idle = 0 // a writer without deadlines: do not ask again on every write
	}
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.arm()
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.arm()
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		r.stalled = true
	}
	return n, err
}

// Flush sends buffered data at once: ReverseProxy flushes after each write of an answer
// without a length (exports, SSE).
func (r *recorder) Flush() {
	r.arm()
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines, hijack).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
