package main

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/emulator"
)

// Two more consented customers for tests that need a fresh tenant (hence a fresh token fetch)
// per step.
const (
	tailspin  = "3a4b5c6d-7e8f-4a0b-8c1d-2e3f4a5b6c7d"
	woodgrove = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
)

// federation is an external identity provider (an AKS cluster's OIDC issuer) trusted by the
// demo app, and the token file it writes.
type federation struct {
	key     *rsa.PrivateKey
	issuer  string
	subject string
	file    string
}

func newFederation(t *testing.T) *federation {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &federation{
		key:     key,
		issuer:  "https://oidc.aks.example/4f1e0d2c",
		subject: "system:serviceaccount:mdegate:gateway",
		file:    filepath.Join(t.TempDir(), "azure-identity-token"),
	}
}

// trust makes the demo app trust the federation (an emulator option).
func (f *federation) trust(o *emulator.Options) {
	o.Apps[0].Secret = ""
	o.Apps[0].Federated = []emulator.FederatedCredential{{Issuer: f.issuer, Subject: f.subject, Key: &f.key.PublicKey}}
}

// write replaces the token file, as the kubelet does (a rename), with a token issued at from.
func (f *federation) write(t *testing.T, g *testGateway, from time.Time, life time.Duration) {
	t.Helper()
	tok, err := emulator.SignFederatedToken(f.key, f.issuer, f.subject, "", from, life)
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		g.secrets = append(g.secrets, tok)
	}
	tmp := f.file + ".new"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.file); err != nil {
		t.Fatal(err)
	}
}

// TestWorkloadIdentityTokenFileRotation: with app.federated_token_file the gateway needs no
// secret, and reads the file again for every token request, so a rotated file is used and
// an expired one is reported with Entra's code.
func TestWorkloadIdentityTokenFileRotation(t *testing.T) {
	t.Parallel()
	clock := emulator.NewClock(time.Now())
	fed := newFederation(t)
	fed.write(t, nil, clock.Now(), time.Hour)
	emu := startEmulator(t, "", fed.trust, func(o *emulator.Options) {
		o.Now = clock.Now
		o.Tenants = append(o.Tenants,
			emulator.Tenant{ID: tailspin, Name: "tailspin", Consented: true},
			emulator.Tenant{ID: woodgrove, Name: "woodgrove", Consented: true})
	})
	tenants := demoTenantsYAML + fmt.Sprintf("  - {name: tailspin, id: %s}\n  - {name: woodgrove, id: %s}\n", tailspin, woodgrove)
	g := serveGateway(t, emu, "", func(ca string) string {
		app := fmt.Sprintf("app: {client_id: %s, federated_token_file: %q}\n", demoClientID, fed.file)
		return gatewayYAML(emu, "127.0.0.1:0", ca, app, tenants, "")
	})
	first, _ := os.ReadFile(fed.file)
	g.secrets = append(g.secrets, strings.TrimSpace(string(first)))

	// 1. The first token comes from the file as written at start.
	if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Fatalf("contoso: %d %s", resp.StatusCode, body)
	}

	// 2. Two hours later the first assertion has expired; the kubelet rotated the file. A new
	// tenant's token request must use the new file content.
	clock.Advance(2 * time.Hour)
	fed.write(t, g, clock.Now(), time.Hour)
	if resp, body := g.do(t, "GET", "/api/alerts", "fabrikam", nil); resp.StatusCode != 200 {
		t.Fatalf("fabrikam after rotation: %d %s (the file was not re-read?)", resp.StatusCode, body)
	}

	// 3. An expired assertion in the file is Entra's AADSTS700024, named to the caller.
	fed.write(t, g, clock.Now().Add(-3*time.Hour), time.Hour)
	resp, body := g.do(t, "GET", "/api/alerts", "tailspin", nil)
	if code, msg, _ := mdeError(t, body); resp.StatusCode != 503 || code != "TokenUnavailable" || !strings.Contains(msg, "AADSTS700024") {
		t.Errorf("expired assertion: %d %s %q, want 503 TokenUnavailable naming AADSTS700024", resp.StatusCode, code, msg)
	}

	// 4. A vanished file says so.
	if err := os.Remove(fed.file); err != nil {
		t.Fatal(err)
	}
	resp, body = g.do(t, "GET", "/api/alerts", "woodgrove", nil)
	if code, msg, _ := mdeError(t, body); resp.StatusCode != 503 || code != "TokenUnavailable" || !strings.Contains(msg, "federated token file") {
		t.Errorf("missing file: %d %s %q, want 503 TokenUnavailable about the federated token file", resp.StatusCode, code, msg)
	}
	if n := emu.TokenRequests(woodgrove); n != 0 {
		t.Errorf("the token endpoint saw %d requests without an assertion, want 0", n)
	}

	// The upstream saw tokens of the app itself, for the right tenants.
	for _, s := range emu.Requests() {
		if s.AppID != demoClientID || (s.TenantID != demoContoso && s.TenantID != demoFabrikam) {
			t.Errorf("upstream saw app %q tenant %q", s.AppID, s.TenantID)
		}
	}
}

// TestFederatedTokenFileFromEnvironment: an app section naming no credential takes
// $AZURE_FEDERATED_TOKEN_FILE, as AKS workload identity sets it; one naming a credential
// does not.
func TestFederatedTokenFileFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "token", []byte("header.payload.signature\n"))
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", file)

	cfg := mustParse(t, lines("app:", "  client_id: "+clientID)+tenantsOnly)
	if cfg.App.FederatedTokenFile != file {
		t.Errorf("federated_token_file = %q, want %q from the environment", cfg.App.FederatedTokenFile, file)
	}
	if o := sourceOptions(cfg, &cfg.App, cfg.Resolved.App, nil, nopLogger, nil); o.Assertion == nil || o.Secret != "" {
		t.Errorf("token options: assertion set %v, secret set %v; want only the assertion", o.Assertion != nil, o.Secret != "")
	} else if a, err := o.Assertion(t.Context()); err != nil || a != "header.payload.signature" {
		t.Errorf("assertion = %q, %v", a, err)
	}

	cfg = mustParse(t, minimal)
	if cfg.App.FederatedTokenFile != "" {
		t.Errorf("with a secret, federated_token_file = %q, want it left unset", cfg.App.FederatedTokenFile)
	}

	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", filepath.Join(dir, "nope"))
	_, err := parse(t, lines("app:", "  client_id: "+clientID)+tenantsOnly)
	if err == nil || !strings.Contains(err.Error(), "line 1: app.federated_token_file: cannot read "+filepath.Join(dir, "nope")) {
		t.Errorf("missing env file: %v", err)
	}
}

// TestPerTenantApp: a tenant with its own app gets tokens of that app; the others get the
// top-level app's; tenants sharing an app share one token source.
func TestPerTenantApp(t *testing.T) {
	t.Parallel()
	const (
		app2    = "7b2d4f6a-8c0e-4a1b-9c3d-5e7f9a1b3c5d"
		secret2 = "second-app-secret~xyz"
	)
	emu := startEmulator(t, "test-secret~main", func(o *emulator.Options) {
		o.Apps = append(o.Apps, emulator.App{ClientID: app2, Secret: secret2})
		o.Tenants[2].Consented = true // northwind consented (to both apps)
	})
	tenants := fmt.Sprintf(`tenants:
  - {name: contoso, id: %s, region: eu}
  - name: fabrikam
    id: %s
    app: {client_id: %s, client_secret: %q}
  - name: northwind
    id: %s
    app: {client_id: %s, client_secret: %q}
`, demoContoso, demoFabrikam, app2, secret2, demoNorthwind, app2, secret2)
	g := serveGateway(t, emu, "test-secret~main", func(ca string) string {
		app := fmt.Sprintf("app: {client_id: %s, client_secret: %q}\n", demoClientID, "test-secret~main")
		return gatewayYAML(emu, "127.0.0.1:0", ca, app, tenants, "")
	})
	g.secrets = append(g.secrets, secret2)

	want := map[string]string{"contoso": demoClientID, "fabrikam": app2, "northwind": app2}
	for name, app := range want {
		emu.ResetRequests()
		if resp, body := g.do(t, "GET", "/api/machines", name, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		if seen := emu.Requests(); len(seen) != 1 || seen[0].AppID != app {
			t.Errorf("%s: upstream saw app %v, want %s", name, seen, app)
		}
	}

	cfg, _, err := config.Load(g.config)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := newTokenSources(cfg, nil, nopLogger, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer apps.Close()
	if apps.Source(demoFabrikam) != apps.Source(demoNorthwind) || apps.Source(demoFabrikam) == apps.Source(demoContoso) {
		t.Error("tenants sharing an app must share its token source, and only those")
	}
}

var nopLogger = zerolog.Nop()
