package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/emulator"
)

const cmdSecret = "cmd-secret~" + "0123456789abcdef"

// onboarding starts the demo emulator (fabrikam holds only Alert.Read.All) and writes a
// config for it with extra YAML appended; it returns the emulator and the config's path.
func onboarding(t *testing.T, extra string) (*emulator.Emulator, string) {
	t.Helper()
	emu := startEmulator(t, cmdSecret, func(o *emulator.Options) {
		o.Tenants[1].Roles = []string{"Alert.Read.All"}
	})
	path := writeConfig(t, emu, func(ca string) string {
		return demoYAML(emu, "127.0.0.1:0", cmdSecret, ca, extra)
	})
	return emu, path
}

// runCmd runs the CLI and returns its stdout, stderr and error.
func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	// No command ever prints a secret or (without -raw) a token.
	for _, out := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(out, cmdSecret) {
			t.Errorf("%v printed the client secret", args)
		}
		if !slicesContain(args, "-raw") && strings.Contains(out, "eyJ") {
			t.Errorf("%v printed a token without -raw:\n%s", args, out)
		}
	}
	return stdout.String(), stderr.String(), err
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestConsentURL(t *testing.T) {
	t.Parallel()
	const app2 = "7b2d4f6a-8c0e-4a1b-9c3d-5e7f9a1b3c5d"
	emu, cfg := onboarding(t, "")
	_ = emu
	t.Run("every tenant", func(t *testing.T) {
		out, stderr, err := runCmd(t, "consent-url", "-config", cfg)
		if err != nil {
			t.Fatalf("err %v: %s", err, stderr)
		}
		for _, id := range []string{demoContoso, demoFabrikam, demoNorthwind} {
			if !strings.Contains(out, "/"+id+"/oauth2/authorize?") {
				t.Errorf("no legacy link for %s:\n%s", id, out)
			}
		}
		// Issue 17: Entra requires redirect_uri on the v2 link; without one it is not printed.
		if strings.Contains(out, "/v2.0/adminconsent?") {
			t.Errorf("a v2 link without a redirect URI:\n%s", out)
		}
		if !strings.Contains(stderr, "no redirect URI") || !strings.Contains(stderr, "only the legacy partner link") {
			t.Errorf("stderr %q does not say why the v2 link is missing", stderr)
		}
	})

	tests := []struct {
		name, extra, flag, tenant string
		wantRedirect, wantClient  string
	}{
		{name: "config redirect", extra: "", tenant: "northwind", wantClient: demoClientID},
		{name: "flag redirect", flag: "https://partner.example/consented", tenant: "NorthWind", wantRedirect: "https://partner.example/consented", wantClient: demoClientID},
		{name: "by tenant ID", tenant: demoNorthwind, wantClient: demoClientID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"consent-url", "-config", cfg, "-tenant", tt.tenant}
			if tt.flag != "" {
				args = append(args, "-redirect-uri", tt.flag)
			}
			out, stderr, err := runCmd(t, args...)
			if err != nil {
				t.Fatalf("err %v: %s", err, stderr)
			}
			legacy, v2 := consentFromOutput(t, out)
			if legacy.Path != "/"+demoNorthwind+"/oauth2/authorize" || !strings.HasPrefix(legacy.String(), emu.LoginURL()) {
				t.Errorf("legacy link %s", legacy)
			}
			lq := legacy.Query()
			if lq.Get("client_id") != tt.wantClient || lq.Get("prompt") != "consent" || lq.Get("response_type") != "code" {
				t.Errorf("legacy query %v", lq)
			}
			if tt.wantRedirect == "" {
				if v2 != nil {
					t.Errorf("v2 link %s without a redirect URI, want none", v2)
				}
				return
			}
			if v2 == nil || v2.Path != "/"+demoNorthwind+"/v2.0/adminconsent" {
				t.Fatalf("v2 link %v", v2)
			}
			q := v2.Query()
			if q.Get("client_id") != tt.wantClient || q.Get("scope") != "https://api.securitycenter.microsoft.com/.default" || q.Get("redirect_uri") != tt.wantRedirect {
				t.Errorf("v2 query %v, want client %s redirect %q", q, tt.wantClient, tt.wantRedirect)
			}
		})
	}

	t.Run("redirect and per-tenant app from config", func(t *testing.T) {
		_, cfg := onboarding(t, "")
		text := strings.Replace(readFile(t, cfg), "app: {", "app: {redirect_uri: 'https://partner.example/ok', ", 1)
		text = strings.Replace(text, "- {name: northwind, id: "+demoNorthwind+"}",
			"- {name: northwind, id: "+demoNorthwind+", app: {client_id: "+app2+", client_secret: x}}", 1)
		cfg = writeFile(t, t.TempDir(), "mdegate.yaml", []byte(text))
		out, stderr, err := runCmd(t, "consent-url", "-config", cfg, "-tenant", "northwind")
		if err != nil {
			t.Fatalf("err %v: %s", err, stderr)
		}
		// The override app names no redirect URI: nothing is inherited, so no v2 link.
		if legacy, v2 := consentFromOutput(t, out); v2 != nil || legacy.Query().Get("client_id") != app2 {
			t.Errorf("legacy %s, v2 %v: want the tenant's own app and no v2 link", legacy, v2)
		}
		out, _, _ = runCmd(t, "consent-url", "-config", cfg, "-tenant", "contoso")
		if _, v2 := consentFromOutput(t, out); v2 == nil || v2.Query().Get("redirect_uri") != "https://partner.example/ok" {
			t.Errorf("contoso v2 link %v, want app.redirect_uri", v2)
		}
	})

	t.Run("unknown tenant", func(t *testing.T) {
		_, stderr, err := runCmd(t, "consent-url", "-config", cfg, "-tenant", "tailspin")
		if !errors.Is(err, errReported) || !strings.Contains(stderr, `tenant "tailspin": no such tenant`) {
			t.Errorf("err %v, stderr %q", err, stderr)
		}
	})
}

// consentFromOutput finds the legacy and v2 links of one tenant's block.
func consentFromOutput(t *testing.T, out string) (legacy, v2 *url.URL) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		u, err := url.Parse(f[1])
		if err != nil {
			t.Fatalf("bad link %q: %v", f[1], err)
		}
		switch f[0] {
		case "legacy:":
			legacy = u
		case "v2:":
			v2 = u
		}
	}
	if legacy == nil {
		t.Fatalf("no legacy link in:\n%s", out)
	}
	return legacy, v2 // v2 is nil without a redirect URI
}

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	_, cfg := onboarding(t, "")
	_, cfgRoles := onboarding(t, "")
	text := strings.Replace(readFile(t, cfgRoles), "app: {", "app: {roles: [Alert.Read.All, Machine.Read.All], ", 1)
	cfgRoles = writeFile(t, t.TempDir(), "mdegate.yaml", []byte(text))

	t.Run("good token", func(t *testing.T) {
		out, stderr, err := runCmd(t, "token", "-config", cfg, "-tenant", "contoso")
		if err != nil {
			t.Fatalf("err %v: %s", err, stderr)
		}
		for _, want := range []string{
			"tid    " + demoContoso + "  ok\n",
			"aud    https://api.securitycenter.microsoft.com  ok\n",
			"appid  " + demoClientID + "  ok\n",
			"Machine.Isolate",
			"set app.roles to check",
			"exp    ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("raw", func(t *testing.T) {
		out, stderr, err := runCmd(t, "token", "-config", cfg, "-tenant", "contoso", "-raw")
		if err != nil {
			t.Fatalf("err %v: %s", err, stderr)
		}
		tok := strings.TrimSpace(out)
		if strings.Count(tok, ".") != 2 || !strings.HasPrefix(tok, "eyJ") || strings.Contains(tok, "\n") {
			t.Errorf("stdout is not just the token: %q", out)
		}
		if c, err := decodeClaims(tok); err != nil || c.Tid != demoContoso {
			t.Errorf("claims %+v, %v", c, err)
		}
		if !strings.Contains(stderr, "tid") || strings.Contains(stderr, "eyJ") {
			t.Errorf("stderr should hold the claims, not the token: %q", stderr)
		}
	})
	t.Run("missing roles", func(t *testing.T) {
		out, _, err := runCmd(t, "token", "-config", cfgRoles, "-tenant", "fabrikam")
		if !errors.Is(err, errReported) || !strings.Contains(out, "  MISSING: Machine.Read.All") {
			t.Errorf("err %v, output:\n%s", err, out)
		}
		if _, _, err := runCmd(t, "token", "-config", cfgRoles, "-tenant", "contoso"); err != nil {
			t.Errorf("contoso holds every expected role, got %v", err)
		}
	})
	t.Run("unconsented", func(t *testing.T) {
		_, stderr, err := runCmd(t, "token", "-config", cfg, "-tenant", "northwind")
		if !errors.Is(err, errReported) || !strings.Contains(stderr, "AADSTS700016") ||
			!strings.Contains(stderr, "fix: ask the customer's admin to open the consent link (mdegate consent-url -tenant northwind)") {
			t.Errorf("err %v, stderr %q", err, stderr)
		}
	})
	t.Run("no tenant", func(t *testing.T) {
		// A usage error since issue 18: exit 2, with the command's usage.
		var ue *usageError
		if _, stderr, err := runCmd(t, "token", "-config", cfg); !errors.As(err, &ue) || !strings.Contains(stderr, "-tenant NAME is required") {
			t.Errorf("err %v, stderr %q", err, stderr)
		}
	})
}

func TestJudge(t *testing.T) {
	t.Parallel()
	tn := config.TenantConfig{Name: "contoso", ID: demoContoso}
	app := &config.AppConfig{ClientID: demoClientID, Scope: "https://api.securitycenter.microsoft.com/.default", Roles: []string{"Alert.Read.All"}}
	good := claims{Tid: demoContoso, Aud: "https://api.securitycenter.microsoft.com", AppID: demoClientID, Roles: []string{"alert.read.all"}}
	tests := []struct {
		name string
		mod  func(*claims)
		want verdict
	}{
		{"good", func(*claims) {}, verdict{}},
		{"aud with slash", func(c *claims) { c.Aud += "/" }, verdict{}},
		{"aud as the API's app ID", func(c *claims) { c.Aud = windowsDefenderATP }, verdict{}},
		{"wrong tid", func(c *claims) { c.Tid = demoFabrikam }, verdict{tid: "want " + demoContoso}},
		{"wrong aud", func(c *claims) { c.Aud = "https://graph.microsoft.com" }, verdict{aud: "want https://api.securitycenter.microsoft.com"}},
		{"wrong appid", func(c *claims) { c.AppID = "x" }, verdict{appid: "want " + demoClientID}},
		{"missing role", func(c *claims) { c.Roles = []string{"Machine.Read.All"} }, verdict{missing: []string{"Alert.Read.All"}}},
		{"no roles", func(c *claims) { c.Roles = nil }, verdict{missing: []string{"Alert.Read.All"}, noRoles: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			if got := judge(c, tn, app); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckCommand(t *testing.T) {
	t.Parallel()
	_, cfg := onboarding(t, "")
	text := strings.Replace(readFile(t, cfg), "app: {", "app: {roles: [Alert.Read.All, Machine.Read.All], ", 1)
	cfg = writeFile(t, t.TempDir(), "mdegate.yaml", []byte(text))

	out, stderr, err := runCmd(t, "check", "-config", cfg)
	if !errors.Is(err, errReported) {
		t.Errorf("err = %v, want a failure: two tenants are broken", err)
	}
	if !strings.Contains(stderr, "checking tenants: 0/3") || !strings.Contains(stderr, "checking tenants: 3/3") || !strings.Contains(stderr, "2 of 3 tenants are broken") {
		t.Errorf("stderr %q lacks the progress line or the summary", stderr)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		rows[f[0]] = f
	}
	if h := rows["TENANT"]; len(h) == 0 {
		t.Fatalf("no header:\n%s", out)
	}
	for _, tt := range []struct {
		tenant string
		want   []string
	}{
		{"contoso", []string{demoContoso, "eu", "ok", "ok (2/2)", "xdr:ok graph:ok", "-"}},
		{"fabrikam", []string{demoFabrikam, "us", "ok", "missing", "Machine.Read.All", "grant the missing permissions"}},
		{"northwind", []string{demoNorthwind, "global", "AADSTS700016", "-", "ask the customer's admin to open the consent link (mdegate consent-url -tenant northwind)"}},
	} {
		line := strings.Join(rows[tt.tenant], " ")
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s row %q lacks %q", tt.tenant, line, w)
			}
		}
		// The RTT column holds a duration: the region answered.
		if f := rows[tt.tenant]; len(f) < 4 || !strings.HasSuffix(f[3], "s") {
			t.Errorf("%s row %q has no RTT", tt.tenant, line)
		}
	}

	// -o json: the same verdicts in the documented shape, and no progress line.
	out, stderr, err = runCmd(t, "check", "-config", cfg, "-o", "json")
	if !errors.Is(err, errReported) || strings.Contains(stderr, "checking tenants") || !strings.Contains(stderr, "2 of 3 tenants are broken") {
		t.Errorf("-o json: err %v, stderr %q", err, stderr)
	}
	var rep struct {
		OK      bool `json:"ok"`
		Broken  int  `json:"broken"`
		Tenants []struct {
			Name, ID, Region, Token, Roles, Fix string
			RegionUp                            *bool    `json:"region_up"`
			RTTMillis                           *float64 `json:"rtt_ms"`
			MissingRoles                        []string `json:"missing_roles"`
			OtherTokens                         string   `json:"other_tokens"`
			OK                                  bool     `json:"ok"`
		} `json:"tenants"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields() // a new field is fine for callers, but must be added here and in the README
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if rep.OK || rep.Broken != 2 || len(rep.Tenants) != 3 {
		t.Errorf("-o json: ok %v broken %d tenants %d, want false, 2, 3", rep.OK, rep.Broken, len(rep.Tenants))
	}
	for i, want := range []struct {
		name, region, token, fix string
		missing                  []string
		ok                       bool
	}{
		{"contoso", "eu", "ok", "", []string{}, true},
		{"fabrikam", "us", "ok", "grant the missing permissions on the app, then ask the customer's admin to consent again", []string{"Machine.Read.All"}, false},
		{"northwind", "global", "AADSTS700016", "ask the customer's admin to open the consent link (mdegate consent-url -tenant northwind)", []string{}, false},
	} {
		if i >= len(rep.Tenants) {
			break
		}
		got := rep.Tenants[i]
		if got.Name != want.name || got.Region != want.region || got.Token != want.token || got.Fix != want.fix ||
			got.OK != want.ok || fmt.Sprint(got.MissingRoles) != fmt.Sprint(want.missing) || got.MissingRoles == nil {
			t.Errorf("-o json tenant %d: %+v, want %+v", i, got, want)
		}
		if got.RegionUp == nil || !*got.RegionUp || got.RTTMillis == nil || *got.RTTMillis < 0 {
			t.Errorf("-o json %s: region_up %v rtt_ms %v, want a measured region", got.Name, got.RegionUp, got.RTTMillis)
		}
	}

	// Only healthy tenants: exit 0.
	text = strings.Replace(text, "roles: [Alert.Read.All, Machine.Read.All], ", "", 1)
	text = strings.Replace(text, "  - {name: northwind, id: "+demoNorthwind+"}\n", "", 1)
	cfg = writeFile(t, t.TempDir(), "mdegate.yaml", []byte(text))
	if out, stderr, err := runCmd(t, "check", "-config", cfg); err != nil {
		t.Errorf("healthy tenants: err %v\n%s%s", err, out, stderr)
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dir := t.TempDir()
	cfgFor := func(listen string) string {
		return writeFile(t, dir, "hc.yaml", []byte(fmt.Sprintf("listen: %q\nallow_anonymous: true\n", listen)+minimal))
	}
	// Issue 18: healthcheck loaded and validated the whole file, so a ${VAR} unset in the
	// probe's environment, or an edit the running gateway refused, made the container
	// unhealthy. Only listen and admin_listen matter.
	invalid := writeFile(t, dir, "invalid.yaml", []byte(lines(
		"listen: 127.0.0.1:1",
		"admin_listen: 127.0.0.1:"+port,
		"app:",
		"  client_id: "+clientID,
		"  client_secret: ${MDE_SECRET}",
		"tenants:",
		"  - name: contoso",
		"    id: not-a-guid",
		"    region: atlantis",
		"no_such_key: 1",
	)))
	if _, _, err := config.Load(invalid); err == nil {
		t.Fatal("the invalid config loads")
	}

	tests := []struct {
		name    string
		args    []string
		status  int
		wantErr bool
	}{
		{"url", []string{"-url", srv.URL + "/healthz"}, 200, false},
		{"listen from config", []string{"-config", cfgFor("127.0.0.1:" + port)}, 200, false},
		{"unspecified host probes loopback", []string{"-config", cfgFor("0.0.0.0:" + port)}, 200, false},
		{"admin_listen of an invalid config", []string{"-config", invalid}, 200, false},
		{"unhealthy", []string{"-url", srv.URL + "/healthz"}, 503, true},
		{"nothing listening", []string{"-url", "http://127.0.0.1:1/healthz"}, 200, true},
		{"not YAML", []string{"-config", writeFile(t, dir, "broken.yaml", []byte("listen: [\n"))}, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status = tt.status
			out, stderr, err := runCmd(t, append([]string{"healthcheck"}, tt.args...)...)
			if tt.wantErr != (err != nil) {
				t.Errorf("err = %v (stdout %q stderr %q), want error %v", err, out, stderr, tt.wantErr)
			}
		})
	}
}

// healthListen reads only listen and admin_listen; without a file it probes the default.
func TestHealthListen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"no file", "", "127.0.0.1:8080"},
		{"no listen key", "tenants: 7\n", "127.0.0.1:8080"},
		{"listen", "listen: 0.0.0.0:9000\n", "0.0.0.0:9000"},
		{"admin_listen wins", "listen: 0.0.0.0:9000\nadmin_listen: 127.0.0.1:9001\n", "127.0.0.1:9001"},
		{"unix socket", "listen: unix:/run/mdegate.sock\n", "unix:/run/mdegate.sock"},
		{"rest unset and invalid", "listen: 127.0.0.1:9000\napp:\n  client_secret: ${MDE_SECRET}\ntenants: [{id: x}]\nlimits: nonsense\n", "127.0.0.1:9000"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
		if tt.yaml != "" {
			writeFile(t, dir, filepath.Base(path), []byte(tt.yaml))
		}
		if got, err := healthListen(path); err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestHealthTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ listen, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"[::]:9090", "http://[::1]:9090/healthz"},
		{"[::1]:9090", "http://[::1]:9090/healthz"},
		{"unix:/run/mdegate.sock", "http://mdegate/healthz"},
	} {
		if got, _, ok := healthTarget(tt.listen); !ok || got != tt.want {
			t.Errorf("healthTarget(%q) = %q, %v; want %q", tt.listen, got, ok, tt.want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
