package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// keySum is the key_sha256 of a caller key.
func keySum(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Without clients the gateway listens only where nobody else can reach it.
func TestSecureDefaults(t *testing.T) {
	base := minimal
	sum := keySum("mdg_test")
	clients := "clients: [{name: c, key_sha256: " + sum + ", tenants: [\"*\"]}]\n"
	tests := []struct {
		name, yaml string
		problem    string // "" for a valid config
	}{
		{"loopback v4", "listen: 127.0.0.1:8080\n", ""},
		{"loopback v6", "listen: \"[::1]:8080\"\n", ""},
		{"localhost", "listen: localhost:8080\n", ""},
		{"unix socket", "listen: unix:/run/mdegate.sock\n", ""},
		{"all interfaces", "listen: :8080\n", `listen: is not loopback and no clients are configured`},
		{"any address", "listen: 0.0.0.0:8080\n", "allow_anonymous: true"},
		{"lan address", "listen: 10.0.0.5:8080\n", "is not loopback"},
		{"tls on all interfaces", "tls: {listen: \":8443\", cert_file: /x.crt, key_file: /x.key}\n", `tls.listen: is not loopback`},
		{"clients make it fine", "listen: :8080\n" + clients, ""},
		{"allow_anonymous overrides", "listen: :8080\nallow_anonymous: true\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, base+tt.yaml)
			switch {
			case tt.problem == "" && err != nil && !strings.Contains(err.Error(), "tls.cert_file"):
				t.Fatalf("unexpected: %v", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Fatalf("got %v, want a problem with %q", err, tt.problem)
			}
		})
	}
}

func TestClientsConfigProblems(t *testing.T) {
	sum := keySum("mdg_test")
	tests := []struct{ yaml, key, msg string }{
		{"clients: [{name: a, tenants: [contoso]}]", "clients[0]", "neither key_sha256 nor cert_subject"},
		{"clients: [{name: a, key_sha256: secret-key-itself, tenants: [contoso]}]", "clients[0].key_sha256", "not 64 hex digits"},
		{"clients: [{name: a, key_sha256: " + sum + "}]", "clients[0].tenants", "is required"},
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [tailspin]}]", "clients[0].tenants[0]", `is not the name or id`},
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [contoso], allow: [\"GET api/x\"]}]", "clients[0].allow[0]", "must start with /"},
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [contoso], allow: [\"GET /api/../x\"]}]", "clients[0].allow[0]", "clean"},
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [contoso], allow: []}]", "clients[0].allow", "is empty"},
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [contoso]}, {name: a, key_sha256: " + sum + ", tenants: [contoso]}]", "clients[1]", "also"},
		{"clients: [{name: a, cert_subject: a.example, tenants: [contoso]}]", "clients[0].cert_subject", "tls.client_ca_file"},
		{"tls: {cert_file: /x}", "tls.listen", "is required"},
		{"tls: {listen: \"127.0.0.1:8443\"}", "tls", "no certificate"},
		{"tls: {listen: \"127.0.0.1:8443\", cert_file: /nonexistent.crt, key_file: /nonexistent.key}", "tls.cert_file", "no such file"},
		{"tls: {listen: \"127.0.0.1:8443\", cert_file: /x.crt}", "tls", "go together"},
		{"tls: {listen: \"unix:/run/x.sock\", cert_file: /x.crt, key_file: /x.key}", "tls.listen", "host:port"},
		{"limits: {max_body: -5}", "limits.max_body", "-1 for no cap"},
		{"tls: {listen: \"127.0.0.1:8443\", acme: {domains: [a.example]}}", "tls.acme.storage", "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.msg, func(t *testing.T) {
			_, err := parse(t, minimal+tt.yaml+"\n")
			if err == nil || !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %s: %s", err, tt.key, tt.msg)
			}
			if strings.Contains(err.Error(), "secret-key-itself") {
				t.Errorf("the problem echoes what may be a key: %v", err)
			}
		})
	}
}

func TestCallerDefaultTenantProblems(t *testing.T) {
	sum := keySum("mdg_test")
	for _, tt := range []struct{ yaml, msg string }{
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [contoso], default_tenant: tailspin}]", `is not the name or id of a configured tenant`},
		{"clients: [{name: a, key_sha256: " + sum + ", tenants: [contoso], default_tenant: fabrikam}]", `is not among the client's tenants`},
	} {
		_, err := parse(t, minimal+"  - {name: fabrikam, id: 0b7e4c1a-5f2d-4e8b-a1c3-9d8e7f6a5b4c}\n"+tt.yaml+"\n")
		if err == nil || !strings.Contains(err.Error(), "clients[0].default_tenant") || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("got %v, want clients[0].default_tenant: %s", err, tt.msg)
		}
	}
}

// Issue 14, finding 9: an allow entry is never repeated in its problem, so a secret pasted
// there does not reach the log of a refused reload.
func TestAllowProblemEchoesNoValue(t *testing.T) {
	t.Parallel()
	const pasted = "Zx9~qRsecretValue42"
	sum := strings.Repeat("a", 64)
	_, err := Parse(strings.NewReader(minimal+"clients: [{name: a, key_sha256: "+sum+", tenants: [contoso], allow: [\""+pasted+"\", \"PASTE"+pasted+" /x\"]}]\n"), "t.yaml")
	if err == nil {
		t.Fatal("a bad allow entry was accepted")
	}
	if msg := err.Error(); strings.Contains(msg, pasted) || !strings.Contains(msg, "clients[0].allow[0]") || !strings.Contains(msg, "clients[0].allow[1]") {
		t.Errorf("problems:\n%s", msg)
	}
}
