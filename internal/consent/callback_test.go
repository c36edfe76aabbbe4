package consent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func fetch(t *testing.T, srv *httptest.Server, q url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + CallbackPath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestCallback(t *testing.T) {
	t.Parallel()
	now := t0
	s := signer(t, testKey(1), &now)
	forger := signer(t, testKey(9), &now)
	valid := t0.Add(24 * time.Hour)

	for _, tc := range []struct {
		name    string
		q       url.Values
		status  int
		fetched []string
		want    []string
		wantNot []string
		result  *Result
	}{{
		name:   "consented, configured",
		q:      url.Values{"tenant": {strings.ToUpper(contosoID)}, "admin_consent": {"True"}, "state": {s.Sign("contoso", valid)}},
		status: 200, fetched: []string{contosoID},
		want: []string{`<h1 id="title">Consent received</h1>`, `data-consented="yes"`, `<code id="tenant">` + contosoID,
			`data-role="Machine.Isolate" data-granted="yes"`, `Also granted: <code>Ti.ReadWrite.All</code>`, "Nothing more to do"},
		wantNot: []string{`id="yaml"`, `id="missing"`, "fabrikam"},
		result:  &Result{Alias: "contoso", TenantID: contosoID, Configured: true, Consented: true},
	}, {
		name:   "consented, new tenant, a role short",
		q:      url.Values{"tenant": {newcoID}, "admin_consent": {"True"}, "state": {s.Sign("newco", valid)}},
		status: 200, fetched: []string{newcoID},
		want: []string{"Consent received, but roles are missing", `data-role="Machine.Read.All" data-granted="yes"`,
			`data-role="Machine.Isolate" data-granted="no"`, `<p id="missing">Missing: <code>Machine.Isolate</code></p>`,
			"<pre id=\"yaml\">- name: newco\n  id: " + newcoID + "</pre>", "to the tenants list"},
		wantNot: []string{"contoso", "fabrikam"},
		result:  &Result{Alias: "newco", TenantID: newcoID, Consented: true, Missing: []string{"Machine.Isolate"}},
	}, {
		name:   "an alias that needs quoting in YAML",
		q:      url.Values{"tenant": {newcoID}, "state": {s.Sign("Adatum: EU", valid)}},
		status: 200, fetched: []string{newcoID},
		want: []string{`- name: &#34;Adatum: EU&#34;` + "\n  id: " + newcoID},
	}, {
		name:   "not consented",
		q:      url.Values{"tenant": {fabrikamID}, "admin_consent": {"True"}, "state": {s.Sign("fabrikam", valid)}},
		status: 200, fetched: []string{fabrikamID},
		want:    []string{"Consent is not effective yet", `data-consented="no"`, "AADSTS7000229: the app has no service principal", "reload this page in a minute"},
		wantNot: []string{secretSentinel, `id="yaml"`, `id="roles"`},
	}, {
		name:   "an opaque error shows a generic line",
		q:      url.Values{"tenant": {brokenID}, "state": {s.Sign("broken", valid)}},
		status: 200, fetched: []string{brokenID},
		want:    []string{"The gateway could not get a token for your tenant."},
		wantNot: []string{secretSentinel, "opaque"},
	}, {
		name:   "new alias for an already configured tenant",
		q:      url.Values{"tenant": {fabrikamID}, "state": {s.Sign("fabrikam-2", valid)}},
		status: 200, fetched: []string{fabrikamID},
		wantNot: []string{`id="yaml"`, ">fabrikam<", "contoso"},
		result:  &Result{Alias: "fabrikam-2", TenantID: fabrikamID, Configured: true, Err: &tokenError{fabrikamID}},
	}, {
		name:    "consent given in another configured customer's tenant",
		q:       url.Values{"tenant": {fabrikamID}, "admin_consent": {"True"}, "state": {s.Sign("contoso", valid)}},
		status:  200,
		want:    []string{"Consent given in a different tenant", `<code id="tenant">` + fabrikamID},
		wantNot: []string{contosoID, ">fabrikam<", `id="consented"`},
		result:  &Result{Alias: "contoso", TenantID: fabrikamID, Mismatch: true},
	}, {
		name: "Entra error, escaped",
		q: url.Values{"error": {"access_denied"}, "error_description": {`AADSTS65004: User declined to consent. <script>alert("x")</script>`},
			"state": {s.Sign("contoso", valid)}},
		status: 200,
		want: []string{"Consent was not given", `<code id="entra-code">access_denied</code>`,
			"AADSTS65004: User declined to consent. &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"},
		wantNot: []string{"<script>", contosoID},
		result:  &Result{Alias: "contoso", EntraError: "access_denied"},
	}, {
		// The legacy link's reply carries a code and the state, no tenant: the state's
		// configured tenant is the one the link sent the admin to.
		name:   "legacy reply without a tenant",
		q:      url.Values{"code": {"0.AX4A"}, "state": {s.Sign("contoso", valid)}},
		status: 200, fetched: []string{contosoID},
		want:   []string{`<h1 id="title">Consent received</h1>`, `<code id="tenant">` + contosoID},
		result: &Result{Alias: "contoso", TenantID: contosoID, Configured: true, Consented: true},
	}, {
		name:    "no tenant in the redirect, and a new alias",
		q:       url.Values{"code": {"0.AX4A"}, "state": {s.Sign("newco", valid)}},
		status:  200,
		want:    []string{"No tenant in Entra&#39;s answer"},
		wantNot: []string{newcoID},
	}, {
		name:    "no tenant in the redirect",
		q:       url.Values{"tenant": {"not-a-guid<b>"}, "state": {s.Sign("contoso", valid)}},
		status:  200,
		want:    []string{"No tenant in Entra&#39;s answer"},
		wantNot: []string{"<b>", "not-a-guid"},
	}, {
		name:    "forged state",
		q:       url.Values{"tenant": {contosoID}, "admin_consent": {"True"}, "state": {forger.Sign("contoso", valid)}},
		status:  400,
		want:    []string{"Invalid consent link", "Ask your partner for a new consent link."},
		wantNot: []string{contosoID, "contoso", `id="facts"`},
	}, {
		name:    "missing state",
		q:       url.Values{"tenant": {contosoID}, "error": {"access_denied"}, "error_description": {"<i>x</i>"}},
		status:  400,
		want:    []string{"Invalid consent link"},
		wantNot: []string{contosoID, "access_denied", "&lt;i&gt;"},
	}, {
		name:    "expired state",
		q:       url.Values{"tenant": {contosoID}, "state": {s.Sign("contoso", t0.Add(-time.Second))}},
		status:  400,
		want:    []string{"Expired consent link"},
		wantNot: []string{contosoID, "contoso"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &gateway{}
			var got []Result
			var mu sync.Mutex
			srv := httptest.NewServer(newHandler(s, g, func(r Result) { mu.Lock(); got = append(got, r); mu.Unlock() }))
			defer srv.Close()
			resp, body := fetch(t, srv, tc.q)
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.status)
			}
			if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
				t.Errorf("Referrer-Policy: got %q", rp)
			}
			if f := g.calls(); !reflect.DeepEqual(f, tc.fetched) {
				t.Errorf("token fetches: got %v, want %v", f, tc.fetched)
			}
			if len(tc.fetched) > 0 && !g.hadDL {
				t.Errorf("Roles got a context without deadline")
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q\n%s", w, body)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("page holds %q", w)
				}
			}
			if tc.status != 200 && len(got) != 0 {
				t.Errorf("a refused landing was observed: %+v", got)
			}
			if tc.result != nil {
				if len(got) != 1 || !reflect.DeepEqual(got[0], *tc.result) {
					t.Errorf("observed: got %+v, want %+v", got, *tc.result)
				}
			}
		})
	}
}

func TestCallbackRateLimited(t *testing.T) {
	t.Parallel()
	now := t0
	s := signer(t, testKey(1), &now)
	g := &gateway{}
	h := New(Options{Signer: s, Lookup: g.lookup, Roles: g.roles, Now: func() time.Time { return now },
		PerClient: Rate{Every: 10 * time.Second, Burst: 2}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	q := url.Values{"tenant": {contosoID}, "state": {s.Sign("contoso", t0.Add(time.Hour))}}
	for i := 0; i < 2; i++ {
		if resp, _ := fetch(t, srv, q); resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d", i, resp.StatusCode)
		}
	}
	resp, body := fetch(t, srv, q)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("third call: status %d, Retry-After %q; want 429, 10", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(body, contosoID) || !strings.Contains(body, "Too many requests") {
		t.Errorf("429 page: %s", body)
	}
	if n := len(g.calls()); n != 2 {
		t.Errorf("token fetches: got %d, want 2 (none for the refused call)", n)
	}
	now = now.Add(10 * time.Second)
	if resp, _ := fetch(t, srv, q); resp.StatusCode != 200 {
		t.Errorf("after the refill: status %d", resp.StatusCode)
	}
}

func TestCallbackMethods(t *testing.T) {
	t.Parallel()
	now := t0
	g := &gateway{}
	srv := httptest.NewServer(newHandler(signer(t, testKey(1), &now), g, nil))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+CallbackPath, "application/x-www-form-urlencoded", strings.NewReader("state=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: got %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
