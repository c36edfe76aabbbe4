package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/config"
)

// Helpers for the gateway tests that start from a configuration. The configuration's own
// tests are in internal/config.

// lines joins YAML lines, so a test can count them.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

const (
	clientID = "11111111-2222-3333-4444-555555555555"
	tenantID = "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"
)

// minimal is the smallest valid configuration (lines 1-6).
var minimal = lines(
	"app:",
	"  client_id: "+clientID,
	"  client_secret: s3cret",
	"tenants:",
	"  - name: contoso",
	"    id: "+tenantID,
)

// tenantsOnly is minimal without the app section (lines 1-3), for app tests.
var tenantsOnly = lines(
	"tenants:",
	"  - name: contoso",
	"    id: "+tenantID,
)

func parse(t *testing.T, text string) (*config.Config, error) {
	t.Helper()
	return config.Parse(strings.NewReader(text), "mdegate.yaml")
}

func mustParse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := parse(t, text)
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, text)
	}
	return cfg
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
