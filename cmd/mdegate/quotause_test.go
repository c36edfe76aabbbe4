package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The status page's "busiest API quota" column through the real gateway (issue 19; it
// used to stay empty because the limiters exposed no counts): three calls to list_alerts for
// contoso show as list_alerts 3/100, and a tenant never called shows none. The quota minute
// is stretched to an hour so that the three calls are still in the window however slow the
// machine is.
func TestStatusPageQuotaUse(t *testing.T) {
	t.Parallel()
	secret := "test-secret~" + strings.Repeat("u5", 8)
	emu := startEmulator(t, secret)
	g := serveGatewayQuota(t, emu, secret, func(ca string) string {
		return demoYAML(emu, "127.0.0.1:0", secret, ca, "admin_listen: 127.0.0.1:0\n")
	}, time.Hour)
	for range 3 {
		if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
			t.Fatalf("contoso: status %d: %s", resp.StatusCode, body)
		}
	}
	code, page := get(t, g.Admin+"/")
	if code != 200 {
		t.Fatalf("status page: %d\n%s", code, page)
	}
	row := func(alias string) string {
		m := regexp.MustCompile(`(?s)data-alias="` + alias + `".*?</tr>`).FindString(page)
		if m == "" {
			t.Fatalf("no row for %s:\n%s", alias, page)
		}
		return m
	}
	if r, want := row("contoso"), `<td>list_alerts <span class="">3/100</span></td>`; !strings.Contains(r, want) {
		t.Errorf("contoso's row lacks %q:\n%s", want, r)
	}
	if r, want := row("fabrikam"), `<td>—</td>`; !strings.Contains(r, want) {
		t.Errorf("fabrikam's row (never called) lacks %q:\n%s", want, r)
	}
}
