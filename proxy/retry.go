package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// maxReplayBody is the largest request body kept for a replay; larger ones stream once.
const maxReplayBody = 1 << 20

// invalidator drops a token the upstream refused. *tokens.Source implements it; a Tokens
// without it gets no 401 replay.
type invalidator interface {
	Invalidate(tenantID string, bad tokens.Token)
}

// errAPITimeout ends an attempt whose API's header timeout (Limits.Timeout) passed.
var errAPITimeout = errors.New("api upstream timeout")

// retrier is the transport ReverseProxy calls. Everything that may send a request more than
// once lives here: quota shaping, failover to the next endpoint, the 401 refresh-and-replay
// and the 429 wait-and-replay. Nothing has reached the caller before RoundTrip returns, so a
// replay is invisible to it. Each kind of replay happens at most once (failover at most once
// per candidate endpoint), so it never loops.
type retrier struct {
	next http.RoundTripper
	h    *Handler
}

func (rt *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if c == nil {
		return rt.next.RoundTrip(req)
	}
	h, ctx := rt.h, req.Context()
	if h.limiter != nil {
		waited, err := h.limiter.Take(ctx, c.tenant.ID, c.api, h.maxWait)
		c.throttleWait += waited
		if waited > 0 || err != nil {
			h.noteWait(c, ctx, waited, "quota", err)
		}
		if err != nil {
			return nil, err
		}
		if waited > 0 {
			c.sent = time.Now()
		}
	}
	replayable := c.api.replayable(req.Method)
	kept := keepBody(req)
	if be := c.bodyErr.Load(); be != nil {
		return nil, be // the caller's body broke before anything was sent
	}

	// An API with a shorter header timeout than the transport's gets its own timer, stopped
	// as soon as the headers arrive: a streaming answer is never cut.
	var cancel context.CancelCauseFunc
	var timer *time.Timer
	if d := c.api.Limits.Timeout; d > 0 && d < h.headerTimeout {
		var tctx context.Context
		tctx, cancel = context.WithCancelCause(ctx)
		timer = time.AfterFunc(d, func() { cancel(errAPITimeout) })
		req = req.WithContext(tctx)
	}
	resp, err := rt.attempts(c, req, replayable, kept)
	if timer != nil {
		timer.Stop()
		if err != nil || errors.Is(context.Cause(req.Context()), errAPITimeout) {
			cancel(nil)
			if err != nil && errors.Is(context.Cause(req.Context()), errAPITimeout) {
				err = errUpstreamTimeout
			}
		} else {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		}
	}
	return resp, err
}

func (rt *retrier) attempts(c *call, req *http.Request, replayable, kept bool) (*http.Response, error) {
	h, ctx := rt.h, req.Context()
	throttled := false
	for {
		c.attempts++
		var span trace.Span
		if c.traced {
			span = h.startAttempt(c, req)
		}
		resp, err := rt.next.RoundTrip(req)
		if span != nil {
			endAttempt(span, resp, err)
		}
		if err != nil {
			if be := c.bodyErr.Load(); be != nil {
				return nil, be // the caller's fault: no region's failure, no failover
			}
			if ctx.Err() != nil || isTimeout(err) && !neverConnected(err) {
				return nil, err // the caller left, or MDE is slow: another endpoint would not help
			}
			h.routes.ReportFailure(c.ep)
			if kept && (replayable || neverConnected(err)) {
				if next := rt.failover(c, req); next != nil {
					req = next
					continue
				}
			}
			return nil, err
		}
		healthy := true
		switch resp.StatusCode {
		case http.StatusSwitchingProtocols:
			// The gateway never forwards Upgrade, so a 101 is the upstream's fault; passing it
			// on would give the caller a raw pipe past policy, quota and logging (issue 14,
			// finding 7).
			resp.Body.Close()
			return nil, errUpgrade
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			h.routes.ReportFailure(c.ep)
			if kept && replayable {
				if next := rt.failover(c, req); next != nil {
					discard(resp)
					req = next
					continue
				}
			}
			healthy = false // MDE's own failure, passed on as it is
		case http.StatusUnauthorized:
			if next := rt.refresh(c, req, kept); next != nil {
				discard(resp)
				req = next
				continue
			}
		case http.StatusTooManyRequests:
			wait, ok := retryAfter(resp.Header, time.Now())
			if ok && h.limiter != nil {
				h.limiter.Backoff(c.tenant.ID, c.api, time.Now().Add(wait))
			}
			if ok && !throttled && kept && replayable && wait <= h.maxWait {
				throttled = true
				discard(resp)
				err := sleep(ctx, wait)
				h.noteWait(c, ctx, wait, "retry_after", err)
				if err != nil {
					return nil, err
				}
				c.throttleWait += wait
				req = replay(req)
				continue
			}
		}
		// This is the answer passed on. Its links are rewritten here rather than in
		// ModifyResponse because a small one is read whole to do it, and when that read breaks
		// off the caller has had nothing yet: the request fails over like a lost connection.
		if h.links != nil {
			if err := h.links.rewrite(resp, c); err != nil {
				if ctx.Err() != nil {
					return nil, err // the caller left, or the API's timeout passed
				}
				if healthy { // a 5xx answer was reported already: one answer, one failure
					h.routes.ReportFailure(c.ep)
				}
				if kept && replayable {
					if next := rt.failover(c, req); next != nil {
						req = next
						continue
					}
				}
				return nil, err
			}
		}
		if healthy {
			h.routes.ReportSuccess(c.ep)
		}
		return resp, nil
	}
}

// failover returns req aimed at the tenant's next candidate endpoint, or nil when none is
// left.
func (rt *retrier) failover(c *call, req *http.Request) *http.Request {
	to, i := rt.h.routes.Pick(c.cands, c.epIdx)
	if to == nil {
		return nil
	}
	from := c.ep
	if c.failoverFrom == "" {
		c.failoverFrom = from.Region
	}
	c.ep, c.epIdx = to, i
	if rt.h.debug {
		rt.h.log.Debug().Str("request_id", c.id).Str("tenant", c.tenant.Name).Str("from", from.Region).
			Str("to", to.Region).Int("attempt", c.attempts+1).Msg("failover")
	}
	out := replay(req)
	out.URL.Scheme, out.URL.Host = to.URL.Scheme, to.URL.Host
	out.URL.Path = to.URL.Path + strings.TrimPrefix(req.URL.Path, from.URL.Path)
	if req.URL.RawPath != "" {
		out.URL.RawPath = to.URL.Path + strings.TrimPrefix(req.URL.RawPath, from.URL.Path)
	}
	out.Host = ""
	return out
}

// refresh handles a 401 for the token the gateway injected: drop it, get a fresh one (one
// fetch for all callers), and return the request to replay with it, once. MDE refused the
// request before doing anything, so any method may be replayed.
func (rt *retrier) refresh(c *call, req *http.Request, kept bool) *http.Request {
	inv, ok := rt.h.tokens.(invalidator)
	if !ok || c.replayed401 || !kept {
		return nil
	}
	inv.Invalidate(c.tenant.ID, c.token)
	tok, err := rt.h.callToken(req.Context(), c, "401")
	if err != nil || tok.Bearer == c.token.Bearer {
		return nil
	}
	c.replayed401 = true
	if rt.h.debug {
		rt.h.log.Debug().Str("request_id", c.id).Str("tenant", c.tenant.Name).Msg("replay after 401 with a fresh token")
	}
	c.token = tok
	out := replay(req)
	out.Header["Authorization"] = tok.Header()
	return out
}

// noteWait reports a wait for a quota slot ("quota") or an MDE 429's Retry-After
// ("retry_after") as a span and a debug line, when those are on.
func (h *Handler) noteWait(c *call, ctx context.Context, waited time.Duration, reason string, err error) {
	if c.traced {
		h.traceWait(ctx, waited, reason, err)
	}
	if h.debug {
		ev := h.log.Debug().Str("request_id", c.id).Str("tenant", c.tenant.Name).Str("api", c.api.Name).
			Str("reason", reason).Float64("wait_ms", routing.Millis(waited))
		if err != nil {
			ev.Str("error", describe(err).Code)
		}
		ev.Msg("quota wait")
	}
}

// replay returns a copy of req with a fresh body.
func replay(req *http.Request) *http.Request {
	out := req.Clone(req.Context())
	if req.GetBody != nil {
		out.Body, _ = req.GetBody() // keepBody's GetBody cannot fail
	}
	return out
}

// keepBody makes a body of up to maxReplayBody replayable (GetBody) and reports whether the
// request can be sent again. A larger body streams on unchanged, once.
func keepBody(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if req.ContentLength > maxReplayBody {
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
	if err != nil || len(buf) > maxReplayBody {
		// Send what was read, then the rest, once.
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return false
	}
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(buf))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return true
}

// neverConnected reports whether err happened before any byte of the request could reach the
// server: the dial or the TLS handshake failed. Such a request is safe to send elsewhere
// whatever its method.
func neverConnected(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	return errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// discard drops an answer that will not be passed on.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cancelOnClose releases an API timeout's context when the answer is done.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// initRetry builds the API table and the retry settings from opts.
func (h *Handler) initRetry(opts Options) {
	h.limiter = opts.Limiter
	h.maxWait = opts.MaxWait
	if h.maxWait <= 0 {
		h.maxWait = 10 * time.Second
	}
	h.headerTimeout = opts.TransportHeaderTimeout
	if h.headerTimeout <= 0 {
		h.headerTimeout = DefaultHeaderTimeout
	}
	timeout := opts.CallTimeout
	if timeout <= 0 {
		timeout = DefaultHeaderTimeout
	}
	h.apis = newAPITable(opts.Families, opts.APIs, timeout)
}

// logRetries adds what the retrier did to a call's log line.
func logRetries(ev *zerolog.Event, c *call) {
	if c.attempts > 0 {
		ev.Int("attempts", c.attempts)
	}
	if c.failoverFrom != "" {
		ev.Str("failover_from", c.failoverFrom)
	}
	if c.throttleWait > 0 {
		ev.Float64("throttle_wait_ms", routing.Millis(c.throttleWait))
	}
	if c.replayed401 {
		ev.Bool("replayed_401", true)
	}
}
