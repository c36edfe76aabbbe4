package config

import (
	"strings"
	"testing"
	"time"
)

// What a caller may hold (issue 14): the limits keys parse, default to zero (the proxy's
// defaults), and a wrong value is named by its key.
func TestCallerLimits(t *testing.T) {
	t.Parallel()
	cfg, err := Parse(strings.NewReader(minimal), "t")
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Limits; l.BodyTimeout != 0 || l.WriteIdleTimeout != 0 || l.TenantMaxConcurrent != 0 || l.AnonymousMaxConcurrent != 0 {
		t.Errorf("unset limits = %+v, want zeros (the proxy's defaults)", l)
	}
	cfg, err = Parse(strings.NewReader(minimal+lines("limits:", "  body_timeout: 5s", "  write_idle_timeout: 2m",
		"  tenant_max_concurrent: 32", "  anonymous_max_concurrent: -1")), "t")
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Limits; l.BodyTimeout != 5*time.Second || l.WriteIdleTimeout != 2*time.Minute || l.TenantMaxConcurrent != 32 || l.AnonymousMaxConcurrent != -1 {
		t.Errorf("limits = %+v", l)
	}
	_, err = Parse(strings.NewReader(minimal+lines("limits:", "  body_timeout: -1s", "  write_idle_timeout: -1s",
		"  tenant_max_concurrent: -2", "  anonymous_max_concurrent: -5")), "t")
	for _, want := range []string{
		"line 8: limits.body_timeout: -1s is negative",
		"line 9: limits.write_idle_timeout: -1s is negative",
		"line 10: limits.tenant_max_concurrent: -2 is neither -1 (no cap), 0 (the default) nor a count",
		"line 11: limits.anonymous_max_concurrent: -5 is neither -1 (no cap), 0 (the default) nor a count",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want a problem %q", err, want)
		}
	}
}

// Issue 14, finding 1: a client's admin key reaches the proxy, and a gateway whose admin
// answers are reachable from other hosts without admin_listen is warned about.
func TestAdminClientsAndWarning(t *testing.T) {
	t.Parallel()
	const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	clients := lines("clients:", "  - {name: prom, key_sha256: "+sum+", admin: true}",
		"  - {name: reader, key_sha256: "+strings.Repeat("ab", 32)+", tenants: [contoso]}")
	for _, tt := range []struct {
		name, yaml string
		tlsListen  string // set after parsing: a tls section needs certificate files
		warn       bool
	}{
		{"clients on every interface", "listen: ':8080'\n" + minimal + clients, "", true},
		{"clients on tls.listen only beyond loopback", minimal + clients, ":8443", true},
		{"admin_listen set", "listen: ':8080'\nadmin_listen: 127.0.0.1:9090\n" + minimal + clients, "", false},
		{"clients on loopback", minimal + clients, "127.0.0.1:8443", false},
		{"no clients", "listen: 127.0.0.1:8080\n" + minimal, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.yaml), "t")
			if err != nil {
				t.Fatal(err)
			}
			c.TLS.Listen = tt.tlsListen
			ws := c.Warnings()
			if got := len(ws) == 1 && strings.HasPrefix(ws[0], "admin_listen: "); got != tt.warn {
				t.Errorf("warnings %q, want one about admin_listen: %v", ws, tt.warn)
			}
			if pc := c.ProxyClients(); len(pc) == 2 && (!pc[0].Admin || pc[1].Admin) {
				t.Errorf("admin flags %v %v, want true false", pc[0].Admin, pc[1].Admin)
			}
		})
	}
}
