package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/mdegate/mdegate/routing"
)

// What a caller may hold and send (issue 14). A request the gateway refuses before
// forwarding is answered at once, without reading its body (refuse); a body must arrive whole
// within Options.BodyTimeout; an error in the caller's body is the caller's, never the
// upstream's (bodyError); an answer the caller stops reading is cut after
// Options.WriteIdleTimeout (recorder.arm); one tenant's callers cannot take every upstream
// connection (tenantShare); and only the request headers Microsoft's APIs use leave the
// gateway (forwardedHeader).

// forwardedHeader reports whether a request header, in canonical form, is passed on to
// Microsoft. It is the one list of them (issue 14, finding 8): what MDE, Defender XDR and
// Graph security read. Everything else stays at the gateway: the caller's keys and cookies,
// Upgrade and Connection, method and URL overrides (X-HTTP-Method-Override, X-Original-URL,
// ...), network details (X-Forwarded-*, X-Real-IP, Via, True-Client-IP, X-Client-IP) and the
// caller's trace context (traceparent, tracestate, baggage), which belongs to the gateway's
// own traces. Content-Length is not a header here: it travels as the request's length.
func forwardedHeader(name string) bool {
	switch name {
	case "Accept",
		"Accept-Encoding", // narrowed to gzip by limitEncoding, or handled by the transport
		"Accept-Language",
		"Content-Type",
		"If-Match",
		"If-None-Match",
		"Prefer",                   // Graph and OData: odata.maxpagesize, return=minimal
		"User-Agent",               // Microsoft asks integrations to name themselves
		"Client-Request-Id",        // Graph's correlation ID
		"Return-Client-Request-Id", // Graph echoes it back
		"Consistencylevel":         // Graph: ConsistencyLevel: eventual for $count and $search
		return true
	}
	return false
}

var (
	errBodyOnRead  = &apiError{http.StatusBadRequest, "InvalidRequest", "a GET or HEAD request must not carry a body"}
	errBadBody     = &apiError{http.StatusBadRequest, "InvalidRequestBody", "the request body could not be read (malformed chunked encoding or a broken connection)"}
	errBodyTimeout = &apiError{http.StatusRequestTimeout, "RequestTimeout", "the request body did not arrive in time"}
)

// announcesBody reports whether r says a body follows.
func announcesBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// checkFraming refuses what no MDE, XDR or Graph call sends: a GET or HEAD with a body.
//
// A request with both Content-Length and Transfer-Encoding cannot be told apart here:
// net/http drops the Content-Length before the handler runs. Refusing it (issue 14, finding
// 11) needs the listener's connection, outside this package.
func checkFraming(r *http.Request) error {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && announcesBody(r) {
		return errBodyOnRead
	}
	return nil
}

// refuse answers a request the gateway will not forward (or whose body broke). When the
// request announced a body, that body is never read: over HTTP/1 the answer says
// Connection: close, so net/http does not first drain up to 256 KiB of it (issue 14, finding
// 2: keyless callers trickling bodies held thousands of connections), and the read deadline
// is set to now, so nothing more is read after the answer.
func (h *Handler) refuse(c *call, r *http.Request, err error) {
	announced := announcesBody(r)
	if announced && r.ProtoMajor == 1 {
		c.recorder.Header()["Connection"] = []string{"close"}
	}
	h.fail(c, err)
	if announced {
		rc := http.NewResponseController(c.recorder.ResponseWriter)
		_ = rc.Flush()
		_ = rc.SetReadDeadline(time.Now())
	}
}

// bodyError is a failure reading the caller's request body: the caller's fault, answered
// 400, 408 or 413 (describe), never counted against the upstream or its region (issue 14,
// finding 3: ten malformed bodies moved every caller's traffic to another region).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "caller body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// describe's part for a body error.
func (e *bodyError) apiError() *apiError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(e.err, &mbe):
		return bodyTooLarge(mbe.Limit)
	case errors.Is(e.err, os.ErrDeadlineExceeded):
		return errBodyTimeout
	}
	return errBadBody
}

// callerBody wraps the caller's body: it caps it at MaxBody, gives it BodyTimeout to arrive
// (a read deadline on the caller's connection, counted from arrival, lifted at the end of
// the body) and records in the call the first error reading it.
type callerBody struct {
	io.ReadCloser
	c     *call
	w     http.ResponseWriter // the caller's, for its read deadline; nil: no timeout
	ended bool
}

func (h *Handler) callerBody(c *call, w http.ResponseWriter, r *http.Request, arrived time.Time) io.ReadCloser {
	body := r.Body
	if h.maxBody > 0 {
		body = http.MaxBytesReader(w, body, h.maxBody)
	}
	b := &callerBody{ReadCloser: body, c: c}
	if h.bodyTimeout > 0 && http.NewResponseController(w).SetReadDeadline(arrived.Add(h.bodyTimeout)) == nil {
		b.w = w
	}
	return b
}

func (b *callerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.end()
	case err != nil:
		b.c.bodyErr.CompareAndSwap(nil, &bodyError{err})
	}
	return n, err
}

// end lifts the body's read deadline once it has arrived: net/http then reads the connection
// in the background to notice a caller that leaves, and a deadline passing there would
// cancel a request still waiting for its answer.
func (b *callerBody) end() {
	if b.w != nil && !b.ended {
		b.ended = true
		_ = http.NewResponseController(b.w).SetReadDeadline(time.Time{})
	}
}

// newAnonymous returns the in-flight cap of the anonymous caller (no Clients configured),
// or nil for none (issue 14, finding 4).
func newAnonymous(max int) *client {
	switch {
	case max == 0:
		max = DefaultMaxConcurrent
	case max < 0:
		return nil
	}
	return &client{max: int64(max), busy: &apiError{http.StatusTooManyRequests, "TooManyRequests",
		fmt.Sprintf("the gateway already has %d requests in flight; retry when one ends", max)}}
}

// tenantShare caps each tenant's requests in flight to Microsoft at a share of the
// connections the transport may open to one host (maxConnsPerHost), so the callers of one
// tenant that stop reading cannot take all of a region's connections from the others (issue
// 14, finding 4). A fixed share per tenant, its excess queued in arrival order (a channel's
// waiting senders), rather than a fair-queueing scheduler across tenants: it needs no
// goroutine and one channel operation per call, other tenants never wait behind it, and with
// the write idle timeout no caller holds a slot long without moving bytes. A request waits
// for a slot as long as its caller does: a burst of one tenant is slowed, never refused
// (MDE's own limits per tenant are far below the share anyway).
type tenantShare struct {
	slots map[string]chan struct{} // tenant ID -> its slots; made by New, read-only after
}

func newTenantShare(max int, routes *routing.Table) *tenantShare {
	switch {
	case max == 0:
		max = DefaultTenantMaxConcurrent
	case max < 0:
		return nil
	}
	s := &tenantShare{slots: map[string]chan struct{}{}}
	if routes != nil {
		for _, tn := range routes.Tenants() {
			s.slots[tn.ID] = make(chan struct{}, max)
		}
	}
	return s
}

// acquire takes a slot of the tenant, waiting while ctx lasts; release gives it back. A tenant the table does not know has no cap (nil).
func (s *tenantShare) acquire(ctx context.Context, tenantID string) (chan struct{}, error) {
	ch := s.slots[tenantID]
	if ch == nil {
		return nil, nil
	}
	select {
	case ch <- struct{}{}:
		return ch, nil
	default:
	}
	select {
	case ch <- struct{}{}:
		return ch, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release gives back a slot acquire took; nil is no slot.
func release(slot chan struct{}) {
	if slot != nil {
		<-slot
	}
}

// orDefault is d for zero, zero (none) for negative, else v.
func orDefault(v, d time.Duration) time.Duration {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}
