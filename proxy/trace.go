package proxy

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (Options.Tracer). Each call is a server span, continuing the caller's W3C
// traceparent when it sent one; the token fetch, each quota wait and each upstream attempt are
// its children, so a failover or a replay shows as a sibling attempt. The caller's
// traceparent, tracestate and baggage are read here and never forwarded (caller.go).
//
// With no tracer nothing here runs: tracing off adds no allocation to a call. A call the
// sampler left out (most of them at a low ratio) gets no child spans, which would be left
// out too, so it costs little more than reading its traceparent.

// traceContext reads traceparent and tracestate; baggage is not read (it may carry a user's
// identity, and nothing here needs it).
var traceContext propagation.TraceContext

// Span names and attribute keys. The attributes name the tenant, the caller and the API;
// never a token, a key or a header's value.
const (
	spanServer   = "call" // renamed after the API when it is known
	spanToken    = "token"
	spanQuota    = "quota wait"
	spanUpstream = "upstream"

	attrTenant   = attribute.Key("mdegate.tenant")
	attrTenantID = attribute.Key("mdegate.tenant_id")
	attrCaller   = attribute.Key("mdegate.caller")
	attrRegion   = attribute.Key("mdegate.region")
	attrAPI      = attribute.Key("mdegate.api")
	attrError    = attribute.Key("mdegate.error")
	attrAttempt  = attribute.Key("mdegate.attempt")
	attrReason   = attribute.Key("mdegate.reason")
	attrResource = attribute.Key("mdegate.resource")
	attrMethod   = attribute.Key("http.request.method")
	attrStatus   = attribute.Key("http.response.status_code")
	attrPath     = attribute.Key("url.path")
)

// serverSpan are the server span's options, built once: a variadic slice passed to an
// interface method would be allocated on every call.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// startTrace starts the call's server span under the caller's trace context, if any, and
// makes it the call's context.
func (h *Handler) startTrace(c *call, r *http.Request) {
	ctx := c.Context
	if _, ok := r.Header["Traceparent"]; ok {
		ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, c.span = h.tracer.Start(ctx, spanServer, serverSpan...)
	c.Context = ctx
	c.traced = c.span.IsRecording()
	if c.traced {
		c.span.SetAttributes(attrMethod.String(r.Method))
	}
}

// endTrace names the server span after the API and ends it with what the call did.
func (c *call) endTrace() {
	if c.span == nil {
		return
	}
	s := c.span
	if !s.IsRecording() {
		s.End()
		return
	}
	if c.api != nil && c.api.Name != "" {
		s.SetName(c.api.Name)
		s.SetAttributes(attrAPI.String(c.api.Name))
	}
	if c.path != "" {
		s.SetAttributes(attrPath.String(c.path))
	}
	if c.tenant != nil {
		s.SetAttributes(attrTenant.String(c.tenant.Name), attrTenantID.String(c.tenant.ID))
	}
	if c.ep != nil {
		s.SetAttributes(attrRegion.String(c.ep.Region))
	}
	if c.client != "" {
		s.SetAttributes(attrCaller.String(c.client))
	}
	status := c.statusCode()
	s.SetAttributes(attrStatus.Int(status))
	if c.code != "" {
		s.SetAttributes(attrError.String(c.code))
	}
	if status >= 500 {
		s.SetStatus(codes.Error, c.code)
	}
	s.End()
}

// traceID writes the call's trace ID in hex into b for its log line; false without one.
func (c *call) traceID(b *[32]byte) bool {
	if c.span == nil {
		return false
	}
	sc := c.span.SpanContext()
	if !sc.HasTraceID() {
		return false
	}
	id := sc.TraceID()
	hex.Encode(b[:], id[:])
	return true
}

// child starts a span under ctx's. Call it only with a tracer; attributes are set by the caller
// within its own tracer check, so that tracing off builds no attribute slice.
func (h *Handler) child(ctx context.Context, name string, kind trace.SpanKind, opts ...trace.SpanStartOption) trace.Span {
	opts = append(opts, trace.WithSpanKind(kind))
	_, s := h.tracer.Start(ctx, name, opts...)
	return s
}

// endChild ends a span from child, marking it failed when err is not nil.
func endChild(s trace.Span, err error) {
	if err != nil {
		// The error's kind, not its text: a transport error may quote a URL or a header.
		s.SetStatus(codes.Error, describe(err).Code)
	}
	s.End()
}

// traceWait records a wait that already happened (a quota slot, an MDE 429's Retry-After) as
// a span from its start to now; reason says which. Only waits that took time get a span.
func (h *Handler) traceWait(ctx context.Context, waited time.Duration, reason string, err error) {
	now := time.Now()
	s := h.child(ctx, spanQuota, trace.SpanKindInternal, trace.WithTimestamp(now.Add(-waited)))
	s.SetAttributes(attrReason.String(reason))
	if err != nil {
		s.SetStatus(codes.Error, describe(err).Code)
	}
	s.End(trace.WithTimestamp(now))
}

// startAttempt starts the span of one round trip to an upstream.
func (h *Handler) startAttempt(c *call, req *http.Request) trace.Span {
	s := h.child(req.Context(), spanUpstream, trace.SpanKindClient)
	if s.IsRecording() {
		s.SetAttributes(attrRegion.String(c.ep.Region), attrAttempt.Int(c.attempts),
			attribute.String("server.address", req.URL.Hostname()), attrMethod.String(req.Method))
	}
	return s
}

// endAttempt ends an attempt's span with MDE's status or the failure.
func endAttempt(s trace.Span, resp *http.Response, err error) {
	if resp != nil {
		s.SetAttributes(attrStatus.Int(resp.StatusCode))
		if resp.StatusCode >= 500 {
			s.SetStatus(codes.Error, "")
		}
	}
	endChild(s, err)
}
