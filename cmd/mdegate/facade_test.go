package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/intercept"
)

// The token endpoint's paths never take the gateway's own: /api/..., /tenants/{t}/...,
// Graph's /v1.0/security and /beta/security, even for a tenant named like a login path part.
func TestIsLoginPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/contoso/oauth2/v2.0/token":                     true,
		"/contoso/oauth2/token":                          true,
		"/common/discovery/instance":                     true,
		"/contoso/v2.0/.well-known/openid-configuration": true,
		"/contoso/.well-known/openid-configuration":      true,
		"/contoso/discovery/v2.0/keys":                   true,
		"/api/machines":                                  false,
		"/api/oauth2/x":                                  false,
		"/tenants/discovery/api/machines":                false,
		"/tenants/oauth2/api/alerts":                     false,
		"/v1.0/security/alerts_v2":                       false,
		"/beta/security/incidents":                       false,
		"/healthz":                                       false,
		"/":                                              false,
		"":                                               false,
		"/contoso":                                       false,
		"/contoso/api/machines":                          false,
	} {
		if got := isLoginPath(p); got != want {
			t.Errorf("isLoginPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// `mdegate ca -out DIR` writes a CA the proxy mode loads, its key 0600, a bundle of the
// public roots plus the CA, and says how each kind of tool trusts it.
func TestCACommand(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	roots := filepath.Join(t.TempDir(), "roots.pem")
	other, err := intercept.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(roots, other.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ca", "-out", dir, "-system-roots", roots}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	ca, err := intercept.LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "bundle.pem"))
	if err != nil || !bytes.Contains(bundle, other.CertPEM()) || !bytes.Contains(bundle, ca.CertPEM()) {
		t.Errorf("bundle.pem lacks the system roots or the CA (%v)", err)
	}
	checkMessage(t, out.String(), []string{"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "REPLACE", "bundle.pem",
		"NODE_EXTRA_CA_CERTS", "Import-Certificate", "keytool", "--cacert", "intercept:", "token_endpoint"}, []string{"PRIVATE KEY"})
	// It never overwrites a CA that tools already trust.
	if err := run(context.Background(), []string{"ca", "-out", dir}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "ca") {
		t.Errorf("a second run over the same directory: %v", err)
	}
	if err := run(context.Background(), []string{"ca"}, io.Discard, io.Discard); err == nil {
		t.Error("ca without -out succeeded")
	}
}
