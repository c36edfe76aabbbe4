package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/consent"
)

func TestConsentKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0x42}, consent.KeySize)
	enc := consent.EncodeKey(key)
	file := filepath.Join(t.TempDir(), "consent.key")
	if err := os.WriteFile(file, []byte(enc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, yaml string
		want       []byte
		problem    string
	}{
		{name: "unset", yaml: ""},
		{name: "inline", yaml: "consent: {state_key: " + enc + "}\n", want: key},
		{name: "file", yaml: "consent: {state_key_file: " + file + "}\n", want: key},
		{name: "short", yaml: "consent: {state_key: " + consent.EncodeKey(key[:16]) + "}\n",
			problem: "line 7: consent.state_key: consent key has 16 bytes, want at least 32"},
		{name: "not base64", yaml: "consent: {state_key: 'not*base64'}\n",
			problem: "line 7: consent.state_key: consent key is not base64"},
		{name: "both", yaml: "consent: {state_key: " + enc + ", state_key_file: " + file + "}\n",
			problem: "line 7: consent: set state_key or state_key_file, not both"},
		{name: "missing file", yaml: "consent: {state_key_file: /nonexistent/consent.key}\n",
			problem: "consent.state_key_file: cannot read /nonexistent/consent.key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t, minimal+tt.yaml)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("got %v, want %q", err, tt.problem)
				}
				if strings.Contains(err.Error(), enc) {
					t.Error("the problem quotes the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cfg.Resolved.ConsentKey, tt.want) {
				t.Errorf("key %x, want %x", cfg.Resolved.ConsentKey, tt.want)
			}
		})
	}
}

func TestConsentRedirectURI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, yaml, want string }{
		{"none", "", ""},
		{"public_url", "public_url: https://gw.example/mde/\n", "https://gw.example/mde/consent/callback"},
		{"redirect_uri wins", "public_url: https://gw.example\n", "https://partner.example/cb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t, minimal+tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "redirect_uri wins" {
				cfg.App.RedirectURI = "https://partner.example/cb"
			}
			if got := cfg.ConsentRedirectURI(&cfg.App); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
