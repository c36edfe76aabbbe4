package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 18: `mdegate healthcheck` needs the address of a gateway whose file may no longer be
// valid (a refused edit, a ${VAR} unset where the probe runs), so ListenAddrs reads listen and
// admin_listen and nothing else. Not parallel: it sets the environment.
func TestListenAddrs(t *testing.T) {
	t.Setenv("MDE_TEST_ADMIN_PORT", "9191")
	dir := t.TempDir()
	for _, tt := range []struct {
		name, yaml     string
		listen, admin  string
		wantErrContain string
	}{
		{name: "empty file", yaml: "", listen: "127.0.0.1:8080"},
		{name: "neither key", yaml: "tenants: []\n", listen: "127.0.0.1:8080"},
		{name: "both", yaml: "listen: 0.0.0.0:8080\nadmin_listen: 127.0.0.1:9090\n", listen: "0.0.0.0:8080", admin: "127.0.0.1:9090"},
		{name: "null listen keeps the default", yaml: "listen:\n", listen: "127.0.0.1:8080"},
		{name: "expanded", yaml: "admin_listen: 127.0.0.1:${MDE_TEST_ADMIN_PORT}\n", listen: "127.0.0.1:8080", admin: "127.0.0.1:9191"},
		{name: "alias", yaml: "x: &a 127.0.0.1:7000\nlisten: *a\n", listen: "127.0.0.1:7000"},
		{name: "the rest invalid", yaml: lines(
			"listen: 127.0.0.1:7001",
			"app:",
			"  client_secret: ${MDE_SECRET_NOT_SET_ANYWHERE}",
			"tenants:",
			"  - {name: contoso, id: not-a-guid, region: atlantis}",
			"limits: 12",
			"unknown_key: true",
		), listen: "127.0.0.1:7001"},
		{name: "unset variable in listen", yaml: "listen: ${MDE_LISTEN_NOT_SET_ANYWHERE}\n",
			wantErrContain: "line 1: listen: environment variable MDE_LISTEN_NOT_SET_ANYWHERE is not set"},
		{name: "listen a list", yaml: "listen: [a, b]\n", wantErrContain: "line 1: listen: want a single value, not a list"},
		{name: "not a mapping", yaml: "- listen\n", wantErrContain: "not a mapping"},
		{name: "not YAML", yaml: "listen: [\n", wantErrContain: "invalid YAML"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ListenAddrs(path)
		if tt.wantErrContain != "" {
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErrContain) {
				t.Errorf("%s: err %v, want an *Error with %q", tt.name, err, tt.wantErrContain)
			}
			continue
		}
		if err != nil || got.Listen != tt.listen || got.AdminListen != tt.admin {
			t.Errorf("%s: got %+v, %v; want listen %q admin_listen %q", tt.name, got, err, tt.listen, tt.admin)
		}
	}
	if _, err := ListenAddrs(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
