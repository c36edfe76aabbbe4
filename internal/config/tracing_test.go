package config

import (
	"strings"
	"testing"
)

func TestTracingDefaultsAndProblems(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, minimal)
	if cfg.Tracing.OTLPEndpoint != "" || cfg.Tracing.Ratio() != DefaultSampleRatio || cfg.Tracing.Service() != "mdegate" {
		t.Errorf("got %+v ratio %v service %q, want off, 0.05, mdegate", cfg.Tracing, cfg.Tracing.Ratio(), cfg.Tracing.Service())
	}
	cfg = mustParse(t, lines("tracing:", "  otlp_endpoint: http://otel-collector:4318", "  sample_ratio: 0", "  service_name: gw")+minimal)
	if cfg.Tracing.Ratio() != 0 || cfg.Tracing.Service() != "gw" {
		t.Errorf("got ratio %v service %q, want an explicit 0 kept and gw", cfg.Tracing.Ratio(), cfg.Tracing.Service())
	}
	_, err := Parse(strings.NewReader(lines("tracing:", "  otlp_endpoint: 'otel-collector:4318'", "  sample_ratio: 1.5")+minimal), "m.yaml")
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"tracing.otlp_endpoint: is not an http(s) URL", "tracing.sample_ratio: 1.5 is not between 0 and 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q in it", err, want)
		}
	}
	_, err = Parse(strings.NewReader(lines("tracing:", "  otlp_endpoint: 'https://user:pa55word@collector'")+minimal), "m.yaml")
	if err == nil || strings.Contains(err.Error(), "pa55word") || !strings.Contains(err.Error(), "must not carry credentials") {
		t.Errorf("got %v, want a refusal that does not repeat the password", err)
	}
}
