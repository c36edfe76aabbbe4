package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseConfigExternalProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"public_url not http", "public_url: ftp://gw.example\n" + minimal,
			[]string{`line 1: public_url: is not an http or https URL`}},
		{"public_url without host", "public_url: https:///mde\n" + minimal,
			[]string{`line 1: public_url: has no host`}},
		{"public_url with query", "public_url: https://gw.example/?x=1\n" + minimal,
			[]string{`line 1: public_url: must not have a query or fragment`}},
		{"public_url with user info is redacted", "public_url: https://u:pw-1234@gw.example\n" + minimal,
			[]string{`line 1: public_url: must not contain user info`}},
		// Regression: an unparsable public_url was quoted whole, password included.
		{"unparsable public_url is not echoed", "public_url: \"https://u:pw-1234@gw example\"\n" + minimal,
			[]string{`line 1: public_url: is not a valid URL`}},
		{"trusted proxy not an address", lines("trusted_proxies:", "  - 10.0.0.0/8", "  - lb.example", "  - 10.0.0.0/33") + minimal,
			[]string{`line 3: trusted_proxies[1]: is not an IP address or CIDR prefix`,
				`line 4: trusted_proxies[2]: is not an IP address or CIDR prefix`}},
		{"host suffix without a dot", lines("routing:", "  host_suffix: mdegate.local") + minimal,
			[]string{`line 2: routing.host_suffix: is not a DNS suffix starting with a dot`}},
		{"host suffix with a bad character", lines("routing:", "  host_suffix: .mde gate") + minimal,
			[]string{`line 2: routing.host_suffix: is not a DNS suffix`}},
		{"default tenant unknown", lines("routing:", "  default_tenant: tailspin") + minimal,
			[]string{`line 2: routing.default_tenant: is not the name or id of a tenant in tenants`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.yaml)
			if err == nil {
				t.Fatal("ParseConfig succeeded, want problems")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q,\nwant substring %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "pw-1234") {
				t.Errorf("the error echoes a password: %q", err)
			}
		})
	}
}

func TestParseConfigExternal(t *testing.T) {
	cfg := mustParse(t, lines(
		"public_url: https://mdegate.example.com/mde/",
		"trusted_proxies: [10.0.0.0/8, 192.0.2.7, \"::1\"]",
		"routing:",
		"  host_suffix: .MdeGate.local",
		"  default_tenant: CONTOSO",
	)+minimal)
	if u := cfg.PublicBaseURL(); u == nil || u.Host != "mdegate.example.com" || u.Path != "/mde/" {
		t.Errorf("public URL %v", u)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("::1/128")}
	got := cfg.TrustedProxyPrefixes()
	if len(got) != len(want) {
		t.Fatalf("trusted proxies %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("trusted_proxies[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if cfg.Routing.HostSuffix != ".MdeGate.local" || cfg.Routing.DefaultTenant != "CONTOSO" {
		t.Errorf("routing %+v", cfg.Routing)
	}
	if d := mustParse(t, minimal); d.PublicBaseURL() != nil || d.TrustedProxyPrefixes() != nil {
		t.Errorf("defaults: public URL %v, trusted proxies %v; want none", d.PublicBaseURL(), d.TrustedProxyPrefixes())
	}
}
