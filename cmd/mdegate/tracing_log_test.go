package main

import "testing"

// The "tracing on" line names the collector by scheme and host only: a token in the
// endpoint's user info or query never reaches the log.
func TestEndpointHostHidesCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://otel-collector:4318":                            "http://otel-collector:4318",
		"https://user:s3cret@collector.example/v1?token=s3cret": "https://collector.example",
		"":      "",
		"%zz::": "",
	} {
		if got := endpointHost(in); got != want {
			t.Errorf("endpointHost(%q) = %q, want %q", in, got, want)
		}
	}
}
