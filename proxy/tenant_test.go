package proxy

import (
	"net/http/httptest"
	"testing"

	"github.com/mdegate/mdegate/routing"
)

// The common case, a tenant named in the header alone, must cost the hot path nothing.
func TestSelectTenantHeaderAllocatesNothing(t *testing.T) {
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: "https://api.security.microsoft.com"},
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Routes: routes, HostSuffix: ".mdegate.local"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/api/alerts", nil)
	r.Header.Set("X-Tenant-ID", "contoso")
	c := &call{}
	n := testing.AllocsPerRun(100, func() {
		name, _, prefixed := splitTenantPath(r.URL.Path)
		if tn, _, err := h.selectTenant(r, c, nil, name, prefixed, ""); err != nil || tn.Name != "contoso" {
			t.Fatalf("selectTenant: %v", err)
		}
	})
	if n != 0 {
		t.Errorf("selectTenant allocates %v times for a header-named tenant, want 0", n)
	}
}
