package routing

import (
	"net/http"
	"testing"
)

// Regression (issue 16): the prober's transport honoured HTTPS_PROXY from the environment, so
// in a sidecar pod that sets it for the tools the gateway measured the proxy's path, not the
// one its calls take. (The calls' own transport is guarded in proxy's transport test.)
func TestProberIgnoresEnvironmentProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	tb, err := New(Options{Regions: map[string]string{Global: "https://g.example"}})
	if err != nil {
		t.Fatal(err)
	}
	p := NewProber(tb, ProbeOptions{})
	if tr := p.client.Transport.(*http.Transport); tr.Proxy != nil {
		t.Error("the prober's transport has a Proxy function: it would follow HTTPS_PROXY")
	}
}
