package config

import (
	"math"
	"net/url"
)

// TracingConfig is the tracing section: OpenTelemetry spans of each call, exported over OTLP
// HTTP (internal/tracing). Off unless an endpoint is given, here or in the environment.
type TracingConfig struct {
	// OTLPEndpoint is the OTLP HTTP collector's base URL, such as http://otel-collector:4318;
	// spans are posted to its /v1/traces. Unset: OTEL_EXPORTER_OTLP_ENDPOINT (or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) when set, else tracing is off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of calls traced, from 0 to 1, when the caller sent no
	// traceparent; a caller's sampled flag is followed. Unset: DefaultSampleRatio (0.05).
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name of the spans. Unset: "mdegate".
	ServiceName string `yaml:"service_name"`
}

// DefaultSampleRatio is tracing.sample_ratio when unset.
const DefaultSampleRatio = 0.05

// Ratio is sample_ratio, or DefaultSampleRatio when unset.
func (t *TracingConfig) Ratio() float64 {
	if t.SampleRatio == nil {
		return DefaultSampleRatio
	}
	return *t.SampleRatio
}

// Service is service_name, or "mdegate" when unset.
func (t *TracingConfig) Service() string {
	if t.ServiceName == "" {
		return "mdegate"
	}
	return t.ServiceName
}

func (t *TracingConfig) validate(ps *problems) {
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		switch {
		case err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https":
			ps.add("tracing.otlp_endpoint", "is not an http(s) URL (e.g. http://otel-collector:4318)")
		case u.User != nil:
			ps.add("tracing.otlp_endpoint", "must not carry credentials")
		}
	}
	if r := t.SampleRatio; r != nil && (math.IsNaN(*r) || *r < 0 || *r > 1) {
		ps.add("tracing.sample_ratio", "%v is not between 0 and 1", *r)
	}
}
