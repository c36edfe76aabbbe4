package main

import (
	"errors"
	"strings"
	"testing"
)

// token -resource gets the tenant's token for another surface and judges its audience
// (issue 17): xdr, graph or a URI; the MDE roles are not asked of it.
func TestTokenCommandResource(t *testing.T) {
	_, cfg := onboarding(t, "")
	for _, tt := range []struct{ flag, aud string }{
		{"xdr", "https://api.security.microsoft.com"},
		{"graph", "https://graph.microsoft.com"},
		{"https://graph.microsoft.com/.default", "https://graph.microsoft.com"},
		{"mde", "https://api.securitycenter.microsoft.com"},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			out, stderr, err := runCmd(t, "token", "-config", cfg, "-tenant", "contoso", "-resource", tt.flag)
			if err != nil {
				t.Fatalf("err %v: %s\n%s", err, stderr, out)
			}
			for _, want := range []string{"aud    " + tt.aud + "  ok\n", "token  " + tt.aud + "  ok\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	_, stderr, err := runCmd(t, "token", "-config", cfg, "-tenant", "contoso", "-resource", "sharepoint")
	if !errors.Is(err, errReported) || !strings.Contains(stderr, "-resource: use mde, xdr, graph or a resource URI") {
		t.Errorf("unknown resource: err %v, stderr %q", err, stderr)
	}
}
