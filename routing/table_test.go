package routing

import (
	"errors"
	"testing"
)

func testTable(t *testing.T) *Table {
	t.Helper()
	tb, err := New(Options{
		Regions:       map[string]string{Global: "https://api.security.microsoft.com", "eu": "https://eu.api.security.microsoft.com/"},
		DefaultRegion: "",
		Tenants: []TenantOptions{
			{Name: "contoso", ID: "8F0D1C0E-3C2A-4B1E-9D53-1F2A3B4C5D6E", Region: "eu"},
			{Name: "Fabrikam", ID: "0b7e4c1a-5f2d-4e8b-a1c3-9d8e7f6a5b4c"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestResolve(t *testing.T) {
	tb := testTable(t)
	tests := []struct {
		key, wantName, wantRegion, wantHost string
	}{
		{"contoso", "contoso", "eu", "eu.api.security.microsoft.com"},
		{"CONTOSO", "contoso", "eu", "eu.api.security.microsoft.com"},
		{"8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e", "contoso", "eu", "eu.api.security.microsoft.com"},
		{"8F0D1C0E-3C2A-4B1E-9D53-1F2A3B4C5D6E", "contoso", "eu", "eu.api.security.microsoft.com"},
		{"fabrikam", "Fabrikam", Global, "api.security.microsoft.com"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			tn, err := tb.Resolve(tt.key)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.key, err)
			}
			if tn.Name != tt.wantName || tn.Endpoint.Region != tt.wantRegion || tn.Endpoint.URL.Host != tt.wantHost {
				t.Errorf("got %s in %s (%s), want %s in %s (%s)", tn.Name, tn.Endpoint.Region, tn.Endpoint.URL.Host, tt.wantName, tt.wantRegion, tt.wantHost)
			}
			if tn.Endpoint.URL.Path != "" {
				t.Errorf("endpoint path %q, want none (trailing slash dropped)", tn.Endpoint.URL.Path)
			}
		})
	}
	for _, key := range []string{"", "northwind", "8f0d1c0e"} {
		if _, err := tb.Resolve(key); !errors.Is(err, ErrUnknownTenant) {
			t.Errorf("Resolve(%q) = %v, want ErrUnknownTenant", key, err)
		}
	}
}

func TestResolveAllocatesNothing(t *testing.T) {
	tb := testTable(t)
	if n := testing.AllocsPerRun(100, func() { _, _ = tb.Resolve("contoso") }); n != 0 {
		t.Errorf("Resolve allocates %v times, want 0", n)
	}
}

func TestNewRefusesAmbiguity(t *testing.T) {
	regions := map[string]string{Global: "https://api.security.microsoft.com"}
	tests := map[string]Options{
		"no global":      {Regions: map[string]string{"eu": "https://eu.api.security.microsoft.com"}},
		"unknown region": {Regions: regions, Tenants: []TenantOptions{{Name: "a", ID: "x", Region: "mars"}}},
		"duplicate name": {Regions: regions, Tenants: []TenantOptions{{Name: "a", ID: "x"}, {Name: "A", ID: "y"}}},
		"http region":    {Regions: map[string]string{Global: "http://api.security.microsoft.com"}},
	}
	for name, opts := range tests {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

func TestLookupCloudCopiesRegions(t *testing.T) {
	c, ok := LookupCloud("public")
	if !ok || len(c.Regions) != 8 {
		t.Fatalf("public cloud: ok=%v regions=%d, want 8 (global + 7)", ok, len(c.Regions))
	}
	c.Regions["mars"] = "https://mars.example"
	if again, _ := LookupCloud("public"); len(again.Regions) != 8 {
		t.Error("LookupCloud handed out the built-in table itself")
	}
}
