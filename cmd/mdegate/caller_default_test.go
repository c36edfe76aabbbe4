package main

import (
	"fmt"
	"testing"
)

// A caller's own default tenant (clients[].default_tenant) serves its requests that name none,
// before routing.default_tenant; a tenant the request names still wins, and the caller's
// tenant policy still applies to it.
func TestCallerDefaultTenant(t *testing.T) {
	t.Parallel()
	kSide, sumSide := newTestKey(t)
	kAny, sumAny := newTestKey(t)
	g := startGateway(t, fmt.Sprintf(`routing: {default_tenant: fabrikam}
clients:
  - {name: sidecar, key_sha256: %s, tenants: [contoso], default_tenant: contoso}
  - {name: any, key_sha256: %s, tenants: ["*"]}
`, sumSide, sumAny))
	g.keys = []string{kSide, kAny}
	tests := []struct {
		name, key, tenant string
		status            int
		wantTID           string
	}{
		{"caller's default", kSide, "", 200, demoContoso},
		{"gateway's default for a caller without one", kAny, "", 200, demoFabrikam},
		{"named tenant wins over the default", kAny, "contoso", 200, demoContoso},
		{"named tenant still under the caller's policy", kSide, "fabrikam", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.emu.ResetRequests()
			resp, body := g.do(t, "GET", "/api/alerts?$top=1", tt.tenant, nil, "X-Api-Key", tt.key)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			seen := g.emu.Requests()
			if tt.wantTID == "" {
				if len(seen) != 0 {
					t.Errorf("a refused call reached MDE")
				}
				return
			}
			if len(seen) != 1 || seen[0].TenantID != tt.wantTID {
				t.Errorf("MDE saw %v, want one call for %s", seen, tt.wantTID)
			}
		})
	}
}
