package consent

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/browsertest"
)

// The landing page as Chromium builds it after Entra's redirect: a good state for a
// configured tenant, a good state for a tenant not yet configured (the YAML to add), and a
// forged state (nothing shown).
func TestBrowserConsentPage(t *testing.T) {
	t.Parallel()
	now := time.Now() // chromium runs on the real clock; the states are valid for a day
	s := signer(t, testKey(1), &now)
	g := &gateway{}
	srv := httptest.NewServer(newHandler(s, g, nil))
	defer srv.Close()
	link := func(q url.Values) string { return srv.URL + CallbackPath + "?" + q.Encode() }
	valid := now.Add(24 * time.Hour)

	for _, tc := range []struct {
		name    string
		q       url.Values
		want    []string
		wantNot []string
	}{{
		name: "good state",
		q:    url.Values{"admin_consent": {"True"}, "tenant": {contosoID}, "state": {s.Sign("contoso", valid)}},
		want: []string{`<h1 id="title">Consent received</h1>`, `<dd id="alias">contoso</dd>`,
			`<dd id="consented" data-consented="yes">`, `data-role="Alert.Read.All" data-granted="yes"`, "Nothing more to do"},
		wantNot: []string{`id="yaml"`, "fabrikam"},
	}, {
		name: "unknown tenant",
		q:    url.Values{"admin_consent": {"True"}, "tenant": {newcoID}, "state": {s.Sign("newco", valid)}},
		want: []string{`<dd id="consented" data-consented="yes">`, `data-role="Machine.Isolate" data-granted="no"`,
			"<pre id=\"yaml\">- name: newco\n  id: " + newcoID + "</pre>"},
		wantNot: []string{"contoso", "fabrikam"},
	}, {
		name:    "forged state",
		q:       url.Values{"admin_consent": {"True"}, "tenant": {contosoID}, "state": {s.Sign("contoso", valid)[:20] + "." + strings.Repeat("A", 43)}},
		want:    []string{`<h1 id="title">Invalid consent link</h1>`, `<p class="problem" id="problem">`},
		wantNot: []string{contosoID, "contoso", `id="facts"`},
	}, {
		name:    "Entra error",
		q:       url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: <b>declined</b>"}, "state": {s.Sign("contoso", valid)}},
		want:    []string{`<code id="entra-code">access_denied</code>`, "AADSTS65004: &lt;b&gt;declined&lt;/b&gt;"},
		wantNot: []string{"<b>declined"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dom := browsertest.DOM(t, link(tc.q))
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

	if os.Getenv("MDEGATE_SCREENSHOTS") != "" {
		q := url.Values{"admin_consent": {"True"}, "tenant": {adatumID}, "state": {s.Sign("adatum", valid)}}
		browsertest.Screenshot(t, link(q), filepath.Join("..", "..", "docs", "consent-page.png"), 1280, 900)
	}
}
