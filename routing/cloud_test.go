package routing

import "testing"

// Each cloud names the hosts and token resources of every API surface the gateway forwards.
func TestCloudSurfaces(t *testing.T) {
	t.Parallel()
	tests := []struct{ cloud, xdr, graph string }{
		{"public", "https://api.security.microsoft.com", "https://graph.microsoft.com"},
		{"gcc", "https://api-gcc.security.microsoft.us", "https://graph.microsoft.com"},
		{"gcc-high", "https://api-gov.security.microsoft.us", "https://graph.microsoft.us"},
		{"dod", "https://api-gov.security.microsoft.us", "https://dod-graph.microsoft.us"},
	}
	for _, tt := range tests {
		c, ok := LookupCloud(tt.cloud)
		if !ok {
			t.Fatalf("cloud %s unknown", tt.cloud)
		}
		if c.XDRResource != tt.xdr || c.Graph != tt.graph || c.GraphResource != tt.graph {
			t.Errorf("%s: XDR %q, Graph %q (resource %q); want %q and %q", tt.cloud, c.XDRResource, c.Graph, c.GraphResource, tt.xdr, tt.graph)
		}
	}
}
