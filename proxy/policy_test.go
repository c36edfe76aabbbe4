package proxy

import (
	"net/url"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		target     string // request target as sent
		fwd, lower string // "" when refused
	}{
		{"/api/alerts", "/api/alerts", "/api/alerts"},
		{"/API/Alerts", "/API/Alerts", "/api/alerts"},
		{"/api//alerts/", "/api/alerts", "/api/alerts"},
		{"/api/../api/machines/x/isolate", "/api/machines/x/isolate", "/api/machines/x/isolate"},
		{"/api/%2e%2e/admin", "/admin", "/admin"},
		{"/api/./alerts", "/api/alerts", "/api/alerts"},
		{"/api/machines;x=1/m/isolate", "/api/machines/m/isolate", "/api/machines/m/isolate"},
		{"/api/alerts;a/..;b/machines", "/api/machines", "/api/machines"},
		{"/api/alerts;", "/api/alerts", "/api/alerts"},
		{"/../../api/alerts", "/api/alerts", "/api/alerts"},
		{"/api/files/a%20b", "/api/files/a b", "/api/files/a b"},
		{"/api/machines%2fx", "", ""},
		{"/api/machines%5Cx", "", ""},
		{"/api/%252e%252e/x", "", ""},
		{"/api/a%00b", "", ""},
		{"/api/a%0ab", "", ""},
		{"/api/a\\b", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			u, err := url.ParseRequestURI(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			fwd, lower, ok := cleanPath(u)
			if ok != (tt.fwd != "") || fwd != tt.fwd || lower != tt.lower {
				t.Errorf("got %q %q %v, want %q %q", fwd, lower, ok, tt.fwd, tt.lower)
			}
		})
	}
}

// The usual request, a clean lower-case path, costs no allocation.
func TestCleanPathAllocs(t *testing.T) {
	u := &url.URL{Path: "/api/machines/abc/isolate"}
	if n := testing.AllocsPerRun(100, func() { cleanPath(u) }); n != 0 {
		t.Errorf("%v allocations for a clean path, want 0", n)
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		rule, method, path string
		want               bool
	}{
		{"*", "DELETE", "/api/x", true},
		{"GET *", "GET", "/api/anything/at/all", true},
		{"GET *", "HEAD", "/api/x", true},
		{"GET *", "POST", "/api/x", false},
		{"GET /api/alerts*", "GET", "/api/alerts", true},
		{"GET /api/alerts*", "GET", "/api/alerts/1/domains", true},
		{"GET /api/alerts*", "GET", "/api/alertsx", true},
		{"GET /api/alerts*", "GET", "/api/machines", false},
		{"get /API/Alerts", "GET", "/api/alerts", true},
		{"GET /api/alerts", "GET", "/api/alerts/1", false},
		{"POST /api/machines/*/isolate", "POST", "/api/machines/m1/isolate", true},
		{"POST /api/machines/*/isolate", "POST", "/api/machines/m1/x/isolate", false},
		{"POST /api/machines/*/isolate", "POST", "/api/machines//isolate", true},
		{"POST /api/machines/*/isolate", "GET", "/api/machines/m1/isolate", false},
		{"* /api/indicators*", "DELETE", "/api/indicators/5", true},
		{"POST /api/machines/*/*", "POST", "/api/machines/m1/unisolate", true},
	}
	for _, tt := range tests {
		r, err := parseRule(tt.rule)
		if err != nil {
			t.Fatalf("%q: %v", tt.rule, err)
		}
		if got := r.allows(tt.method, tt.path); got != tt.want {
			t.Errorf("%q allows %s %s = %v, want %v", tt.rule, tt.method, tt.path, got, tt.want)
		}
	}
	for _, bad := range []string{"", "GET", "GET api/x", "G3T /api", "GET /api/../x", "GET //api", "GET /api/./x*"} {
		if _, err := parseRule(bad); err == nil {
			t.Errorf("%q parsed; want an error", bad)
		}
	}
}
