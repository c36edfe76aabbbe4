package statuspage

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/browsertest"
)

// The page as Chromium builds it: the rows of a consented, an unconsented and a never-used
// tenant, the failing tenant's consent link, and the filter form submitted as a browser would
// (a GET of ?q=).
func TestBrowserStatusPage(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(handler(sample()))
	defer srv.Close()

	dom := browsertest.DOM(t, srv.URL+"/")
	want := []string{"fabrikam:failing", "tailspin:ok", "northwind:unused", "contoso:ok"}
	if got := rows(dom); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows: got %v, want %v\n%s", got, want, dom)
	}
	for _, s := range []string{
		`<title>mdegate status</title>`,
		`<a class="consent" href="https://login.microsoftonline.com/22222222-2222-4222-8222-222222222222/adminconsent?client_id=c0ffee00-0000-4000-8000-000000000001&amp;state=abc"`,
		`<form method="get" role="search">`, `<input type="search" name="q" value=""`,
		`<span class="badge s-unused">unused</span>`, `<code class="code">AADSTS7000229</code>`,
	} {
		if !strings.Contains(dom, s) {
			t.Errorf("DOM lacks %q", s)
		}
	}

	dom = browsertest.DOM(t, srv.URL+"/?q=unused")
	if got := rows(dom); !reflect.DeepEqual(got, []string{"northwind:unused"}) {
		t.Errorf("filtered rows: got %v", got)
	}
	if !strings.Contains(dom, `name="q" value="unused"`) || !strings.Contains(dom, `<a href="?" id="clear">clear</a>`) {
		t.Errorf("filter box does not keep the query or offer to clear it")
	}

	if os.Getenv("MDEGATE_SCREENSHOTS") != "" {
		shot := httptest.NewServer(handler(showcase()))
		defer shot.Close()
		browsertest.Screenshot(t, shot.URL+"/", filepath.Join("..", "..", "docs", "status-page.png"), 1280, 900)
	}
}

// showcase is the README screenshot's gateway: the sample and a few more customers.
func showcase() Snapshot {
	s := sample()
	names := []string{"adatum", "alpine-ski", "bellows-college", "coho-winery", "litware", "proseware",
		"woodgrove-bank"}
	for i, n := range names {
		t := Tenant{Alias: n, ID: fmt.Sprintf("%08x-5e1f-4c2a-9d3b-%012x", 0xa1b2c3d4+i*7919, 0x5f00d0000+i*104729),
			Region: []string{"eu", "us", "auto", "uk"}[i%4], Token: TokenOK,
			Expires: t0.Add(time.Duration(5+i*4) * time.Minute), Recent: Counts{Calls: uint64(40 + i*97%600)},
			BusiestAPI: []string{"alerts", "machines", "advancedqueries"}[i%3], QuotaUsed: 10 + i*7%80, QuotaLimit: 100}
		if t.Region == "auto" {
			t.Picked = "eu"
		}
		if i == 4 {
			t.Token, t.Expires, t.Recent, t.BusiestAPI = TokenUnused, time.Time{}, Counts{}, ""
		}
		s.Tenants = append(s.Tenants, t)
	}
	return s
}
