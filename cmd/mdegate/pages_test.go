package main

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/browsertest"
	"github.com/mdegate/mdegate/internal/consent"
	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// The status page and the consent landing page of the real gateway (issue 19).

// pagesNewco is a customer that consented but is not in the gateway's configuration yet.
const pagesNewco = "c0a8e0b1-7e57-4e11-8a11-0000000000ab"

// pagesGateway is the gateway the page tests load: the demo's tenants, a caller with every
// tenant (soar) and one limited to contoso (reader), admin_listen, a consent state key and
// app.roles; after start, contoso was called (ok), northwind was called and failed (not
// consented), fabrikam was never used, and reader was refused once.
type pagesGateway struct {
	*testGateway
	signer *consent.Signer
}

func startPagesGateway(t *testing.T) *pagesGateway {
	t.Helper()
	secret := "test-secret~" + strings.Repeat("p4", 8)
	emu := startEmulator(t, secret, func(o *emulator.Options) {
		o.Tenants = append(o.Tenants, emulator.Tenant{ID: pagesNewco, Name: "newco", Consented: true})
	})
	key := bytes.Repeat([]byte{0x5a}, consent.KeySize)
	kr, sr := newTestKey(t)
	ks, ss := newTestKey(t)
	ka, sa := newTestKey(t)
	app := fmt.Sprintf("app: {client_id: %s, client_secret: %q, roles: [Alert.Read.All, Machine.Read.All]}\n", demoClientID, secret)
	extra := fmt.Sprintf(`admin_listen: 127.0.0.1:0
public_url: https://mdegate.partner.example
consent: {state_key: %s}
clients:
  - {name: reader, key_sha256: %s, tenants: [contoso]}
  - {name: soar, key_sha256: %s, tenants: ["*"], allow: ["*"]}
  - {name: ops, key_sha256: %s, admin: true}
`, consent.EncodeKey(key), sr, ss, sa)
	g := serveGateway(t, emu, secret, func(ca string) string {
		return gatewayYAML(emu, "127.0.0.1:0", ca, app, demoTenantsYAML, extra)
	})
	g.keys = []string{kr, ks, ka}
	for _, c := range []struct {
		key, tenant string
		want        int
	}{{ks, "contoso", 200}, {ks, "northwind", 503}, {kr, "fabrikam", 403}} {
		if resp, body := g.do(t, "GET", "/api/alerts", c.tenant, nil, "X-Api-Key", c.key); resp.StatusCode != c.want {
			t.Fatalf("%s: status %d, want %d: %s", c.tenant, resp.StatusCode, c.want, body)
		}
	}
	g.logs.waitLines(t, "request", 3) // the calls are counted when their handler returns
	s, err := consent.NewSigner(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pagesGateway{g, s}
}

// landing is the URL Entra redirects an admin to after consenting through a link for alias.
func (pg *pagesGateway) landing(tenantID, state string) string {
	q := url.Values{"admin_consent": {"True"}, "tenant": {tenantID}, "state": {state}}
	return pg.URL + consent.CallbackPath + "?" + q.Encode()
}

func (pg *pagesGateway) state(alias string) string {
	return pg.signer.Sign(alias, time.Now().Add(time.Hour)) // chromium runs on the real clock
}

var pageRow = regexp.MustCompile(`data-alias="([^"]+)" data-state="([^"]+)"`)

func pageRows(dom string) []string {
	var out []string
	for _, m := range pageRow.FindAllStringSubmatch(dom, -1) {
		out = append(out, m[1]+":"+m[2])
	}
	return out
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The pages over plain HTTP, where they are served and where not: the status page on the
// admin listener, and on the main listener for an admin caller only; the landing page on the
// main listener without a caller key.
func TestPagesListeners(t *testing.T) {
	t.Parallel()
	pg := startPagesGateway(t)

	code, body := get(t, pg.Admin+"/")
	if code != 200 || !strings.Contains(body, "<title>mdegate status</title>") {
		t.Fatalf("admin /: %d\n%s", code, body)
	}
	want := []string{"northwind:failing", "fabrikam:unused", "contoso:ok"}
	if got := pageRows(body); !slices.Equal(got, want) {
		t.Errorf("rows: got %v, want %v", got, want)
	}
	for _, s := range []string{
		`<tr data-caller="reader"><td>reader</td><td class="n">0</td><td class="n err">1</td></tr>`,
		`<code class="code">AADSTS700016</code>`,
		// The failing tenant's consent link: the v2 link to public_url's landing page, with
		// a state the landing page accepts.
		`/` + demoNorthwind + `/v2.0/adminconsent?client_id=` + demoClientID,
		`redirect_uri=https%3A%2F%2Fmdegate.partner.example%2Fconsent%2Fcallback`,
		`&amp;state=`,
		// The resolved build version, as /readyz shows it: the page used to read the raw
		// -X main.version and say "unknown" for an unstamped build.
		`version <b>` + html.EscapeString(buildVersion().Version) + `</b>`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("status page lacks %q\n%s", s, body)
		}
	}
	if m := regexp.MustCompile(`state=([A-Za-z0-9_.-]+)"`).FindStringSubmatch(body); m == nil {
		t.Error("no state in the consent link")
	} else if alias, err := pg.signer.Verify(m[1]); err != nil || alias != "northwind" {
		t.Errorf("the consent link's state: %q, %v", alias, err)
	}
	// On the main listener, the status page is an admin caller's only (issue 19).
	for _, c := range []struct {
		name, key string
		page      bool
	}{{"no key", "", false}, {"soar (all tenants, not admin)", pg.keys[1], false}, {"ops (admin)", pg.keys[2], true}} {
		req, _ := http.NewRequest("GET", pg.URL+"/", nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.StatusCode == 200 && strings.Contains(string(b), "<title>mdegate status</title>"); got != c.page {
			t.Errorf("main listener / for %s: status %d, status page %v, want %v", c.name, resp.StatusCode, got, c.page)
		}
	}
	resp, err := http.Head(pg.Admin + "/?q=north")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD /: %v %v", resp, err)
	}

	// No caller key, yet the landing page answers (clients are configured).
	code, body = get(t, pg.landing(demoContoso, pg.state("contoso")))
	if code != 200 || !strings.Contains(body, `<h1 id="title">Consent received</h1>`) {
		t.Errorf("landing: %d\n%s", code, body)
	}
	code, body = get(t, pg.landing(demoContoso, ""))
	if code != 400 || strings.Contains(body, "contoso") {
		t.Errorf("landing without state: %d\n%s", code, body)
	}
}

// Both pages as headless Chromium renders them from the real gateway.
func TestBrowserPages(t *testing.T) {
	t.Parallel()
	browsertest.Browser(t) // skips (fails in CI) before starting anything without Chromium
	pg := startPagesGateway(t)

	dom := browsertest.DOM(t, pg.Admin+"/")
	want := []string{"northwind:failing", "fabrikam:unused", "contoso:ok"}
	if got := pageRows(dom); !slices.Equal(got, want) {
		t.Fatalf("rows: got %v, want %v\n%s", got, want, dom)
	}
	for _, s := range []string{
		`<span class="badge s-failing">failing</span> <code class="code">AADSTS700016</code>`,
		`<a class="consent" href="https://`, // northwind's consent link
		`<td>eu</td>`, `<td>us</td>`,
		`<td class="n">1</td>`, // contoso's call
		`<tr data-caller="soar">`, `<tr data-caller="reader">`,
		`<tr data-region="eu">`,
	} {
		if !strings.Contains(dom, s) {
			t.Errorf("status page DOM lacks %q", s)
		}
	}
	dom = browsertest.DOM(t, pg.Admin+"/?q=north")
	if got := pageRows(dom); !slices.Equal(got, []string{"northwind:failing"}) {
		t.Errorf("?q=north rows: got %v", got)
	}
	if !strings.Contains(dom, `name="q" value="north"`) {
		t.Error("the filter box does not keep the query")
	}

	for _, tc := range []struct {
		name, url string
		want      []string
		wantNot   []string
	}{{
		name: "good state",
		url:  pg.landing(demoContoso, pg.state("contoso")),
		want: []string{`<h1 id="title">Consent received</h1>`, `<dd id="alias">contoso</dd>`,
			`<dd id="consented" data-consented="yes">`, `data-role="Alert.Read.All" data-granted="yes"`,
			`data-role="Machine.Read.All" data-granted="yes"`, "Nothing more to do"},
		wantNot: []string{`id="yaml"`, "fabrikam", "northwind"},
	}, {
		name: "forged state",
		url:  pg.landing(demoContoso, pg.state("contoso")[:20]+"."+strings.Repeat("A", 43)),
		want: []string{`<h1 id="title">Invalid consent link</h1>`},
		// Nothing about any tenant, not even the one in the URL.
		wantNot: []string{demoContoso, "contoso", `id="facts"`},
	}, {
		name: "unknown tenant",
		url:  pg.landing(pagesNewco, pg.state("newco")),
		want: []string{`<dd id="consented" data-consented="yes">`, `data-role="Alert.Read.All" data-granted="yes"`,
			"<pre id=\"yaml\">- name: newco\n  id: " + pagesNewco + "</pre>"},
		wantNot: []string{"contoso", "fabrikam", "northwind"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dom := browsertest.DOM(t, tc.url)
			for _, w := range tc.want {
				if !strings.Contains(dom, w) {
					t.Errorf("DOM lacks %q\n%s", w, dom)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(dom, w) {
					t.Errorf("DOM holds %q", w)
				}
			}
		})
	}

	// MDEGATE_SCREENSHOTS=1 go test ./cmd/mdegate -run TestBrowserPages remakes the README's.
	if os.Getenv("MDEGATE_SCREENSHOTS") != "" {
		browsertest.Screenshot(t, pg.Admin+"/", filepath.Join("..", "..", "docs", "status-page.png"), 1280, 720)
		browsertest.Screenshot(t, pg.landing(pagesNewco, pg.state("newco")), filepath.Join("..", "..", "docs", "consent-page.png"), 1280, 900)
	}
}

// The status page's counters sit on every call's path: counting allocates nothing.
func TestCallBookAllocs(t *testing.T) {
	tn := &routing.Tenant{Name: "contoso", ID: demoContoso, Endpoint: &routing.Endpoint{Region: "eu"}}
	b := newCallBook(nopMetrics{}, time.Now)
	b.retain([]*routing.Tenant{tn})
	o := proxy.Observation{Tenant: tn, Method: "GET", Status: 429, Reached: true}
	if n := testing.AllocsPerRun(1000, func() { b.Done(o) }); n != 0 {
		t.Errorf("Done allocates %v times per call", n)
	}
	// A reload keeps the counts of the tenants it keeps.
	b.retain([]*routing.Tenant{tn, {Name: "newco", ID: pagesNewco}})
	if c := b.recent(demoContoso).Last5(time.Now()); c.Calls < 1000 || c.Throttled != c.Calls || c.Errors != 0 {
		t.Errorf("after a reload: %+v", c)
	}
	if b.recent(pagesNewco) == nil || b.recent(demoNorthwind) != nil {
		t.Error("retain did not follow the tenants")
	}
}

type nopMetrics struct{}

func (nopMetrics) Start()                 {}
func (nopMetrics) Done(proxy.Observation) {}

// consent-url signs a state naming the alias into both links, which the landing page under
// the same key accepts, and points the redirect at public_url's landing page when
// app.redirect_uri is unset.
func TestConsentURLState(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0x33}, consent.KeySize)
	_, cfg := onboarding(t, "public_url: https://gw.partner.example\nconsent: {state_key: "+consent.EncodeKey(key)+"}\n")
	out, stderr, err := runCmd(t, "consent-url", "-config", cfg, "-tenant", "northwind", "-state-ttl", "48h")
	if err != nil {
		t.Fatalf("err %v: %s", err, stderr)
	}
	legacy, v2 := consentFromOutput(t, out)
	now := time.Now()
	s, _ := consent.NewSigner(key, func() time.Time { return now })
	late, _ := consent.NewSigner(key, func() time.Time { return now.Add(49 * time.Hour) })
	for _, u := range []*url.URL{legacy, v2} {
		q := u.Query()
		if alias, err := s.Verify(q.Get("state")); err != nil || alias != "northwind" {
			t.Errorf("%s: state names %q (%v)", u.Path, alias, err)
		}
		if _, err := late.Verify(q.Get("state")); err == nil {
			t.Errorf("%s: the state outlives -state-ttl", u.Path)
		}
		if got := q.Get("redirect_uri"); got != "https://gw.partner.example/consent/callback" {
			t.Errorf("%s: redirect_uri %q", u.Path, got)
		}
	}
	if strings.Contains(stderr, "state") || strings.Contains(stderr, "no redirect URI") {
		t.Errorf("unexpected note: %s", stderr)
	}

	// A customer not yet configured: the organizations endpoint, the state names the new alias.
	out, stderr, err = runCmd(t, "consent-url", "-config", cfg, "-new", "newco")
	if err != nil {
		t.Fatalf("-new: %v: %s", err, stderr)
	}
	m := regexp.MustCompile(`v2: +(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("-new printed no v2 link:\n%s", out)
	}
	u, _ := url.Parse(m[1])
	if alias, err := s.Verify(u.Query().Get("state")); u.Path != "/organizations/v2.0/adminconsent" || err != nil || alias != "newco" {
		t.Errorf("-new link %s: state %q %v", u, alias, err)
	}
	if _, stderr, err := runCmd(t, "consent-url", "-config", cfg, "-new", "NorthWind"); err == nil || !strings.Contains(stderr, "already configured") {
		t.Errorf("-new for a configured tenant: %v %s", err, stderr)
	}

	// Without a key: no state, and a note saying what that means.
	_, cfg = onboarding(t, "")
	out, stderr, err = runCmd(t, "consent-url", "-config", cfg, "-tenant", "northwind", "-redirect-uri", "https://gw.partner.example/consent/callback")
	if err != nil {
		t.Fatalf("err %v: %s", err, stderr)
	}
	if legacy, v2 := consentFromOutput(t, out); v2 == nil || legacy.Query().Has("state") || v2.Query().Has("state") {
		t.Error("a state without consent.state_key")
	}
	if !strings.Contains(stderr, "no consent.state_key") {
		t.Errorf("stderr %q", stderr)
	}
}

// The demo's admin listener is the next loopback port.
func TestDemoAdminListen(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"127.0.0.1:8080": "127.0.0.1:8081", "127.0.0.1:0": "127.0.0.1:0", "[::1]:9000": "[::1]:9001"} {
		if got, err := demoAdminListen(in); err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := demoAdminListen("unix:/tmp/x"); err == nil {
		t.Error("a unix socket got an admin port")
	}
}
