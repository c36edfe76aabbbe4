package statuspage

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
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

var rowAlias = regexp.MustCompile(`data-alias="([^"]+)" data-state="([^"]+)"`)

// rows lists "alias:state" of the tenant rows in page order.
func rows(body string) []string {
	var out []string
	for _, m := range rowAlias.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+":"+m[2])
	}
	return out
}

func TestPageFailingFirst(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(handler(sample()))
	defer srv.Close()
	resp, body := get(t, srv, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	// fabrikam fails, tailspin has errors and 429s, northwind was never used, contoso is fine.
	want := []string{"fabrikam:failing", "tailspin:ok", "northwind:unused", "contoso:ok"}
	if got := rows(body); !reflect.DeepEqual(got, want) {
		t.Errorf("rows: got %v, want %v", got, want)
	}
	for _, s := range []string{
		`<meta http-equiv="refresh" content="15">`,
		"AADSTS7000229", "an admin must consent",
		`href="https://login.microsoftonline.com/22222222-2222-4222-8222-222222222222/adminconsent?client_id=c0ffee00-0000-4000-8000-000000000001&amp;state=abc"`,
		"auto → eu", "machines <span class=\"high\">95/100</span>", "alerts <span class=\"\">41/100</span>",
		"in 53m", "up <b>26h03m</b>", "reloads <b>3</b>, refused <b>1</b>",
		`tenants[2].region: &#34;eu-north&#34; is not a known region`,
		"cooling down until 01:00:40 (40s)", "9.4ms", "not probed",
		`<tr data-caller="soar"><td>soar</td><td class="n">0</td><td class="n err">17</td></tr>`,
		`id="count-failing">1 failing`, `id="count-unused">1 unused`, `id="count-erroring">1 with errors`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	// The consent link is shown only for a failing tenant.
	if n := strings.Count(body, `class="consent"`); n != 1 {
		t.Errorf("consent links: got %d, want 1", n)
	}
}

func TestPageFilter(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(handler(sample()))
	defer srv.Close()
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"FABRIKAM", []string{"fabrikam:failing"}},
		{"3333-4333", []string{"northwind:unused"}},
		{"eu", []string{"tailspin:ok", "contoso:ok"}}, // tailspin's auto picked eu
		{"unused", []string{"northwind:unused"}},
		{"ok eu", []string{"tailspin:ok", "contoso:ok"}},
		{"ok us", nil},
		{"nobody", nil},
	} {
		t.Run(tc.q, func(t *testing.T) {
			_, body := get(t, srv, "/?q="+strings.ReplaceAll(tc.q, " ", "+"))
			if got := rows(body); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if !strings.Contains(body, `name="q" value="`+tc.q+`"`) {
				t.Errorf("filter box does not keep %q", tc.q)
			}
		})
	}
}

func TestPagePaging(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(handler(many(2345)))
	defer srv.Close()
	_, body := get(t, srv, "/")
	if got := len(rows(body)); got != 100 {
		t.Fatalf("first page rows: got %d, want 100", got)
	}
	// 2345/50 failing tenants come first.
	if r := rows(body); r[0] != "customer-00007:failing" || !strings.HasSuffix(r[46], ":failing") || strings.HasSuffix(r[47], ":failing") {
		t.Errorf("failing-first order broken: %v ... %v", r[:2], r[45:49])
	}
	for _, s := range []string{"showing 1–100 of 2345", "page 1 of 24", `href="?page=2" id="next"`} {
		if !strings.Contains(body, s) {
			t.Errorf("first page lacks %q", s)
		}
	}
	_, body = get(t, srv, "/?page=24")
	if got := len(rows(body)); got != 45 {
		t.Errorf("last page rows: got %d, want 45", got)
	}
	if !strings.Contains(body, "showing 2301–2345 of 2345") || !strings.Contains(body, `href="?page=23" id="prev"`) {
		t.Errorf("last page: wrong range or no previous link")
	}
	_, body = get(t, srv, "/?page=999&q=customer-01")
	if !strings.Contains(body, "showing 901–1000 of 1000 matching “customer-01”") ||
		!strings.Contains(body, `href="?page=9&amp;q=customer-01" id="prev"`) {
		t.Errorf("out-of-range page with a filter is not clamped to the last one")
	}
	_, body = get(t, srv, "/?page=-3")
	if !strings.Contains(body, "showing 1–100 of 2345") {
		t.Errorf("negative page is not the first")
	}
}

// Hostile text from the config (an alias, a reload error) is escaped, and a javascript: URL
// cannot become a link.
func TestPageEscapes(t *testing.T) {
	t.Parallel()
	s := sample()
	s.Tenants[1].Alias = `<script>alert(1)</script>`
	s.Tenants[1].ConsentURL = "javascript:alert(1)"
	s.LastRefusal = `<img src=x onerror=alert(1)>`
	srv := httptest.NewServer(handler(s))
	defer srv.Close()
	_, body := get(t, srv, "/?q=%3Cscript")
	for _, bad := range []string{"<script>", "<img", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("escaped alias missing")
	}
}

func TestPageMethods(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(handler(sample()))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: got %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = srv.Client().Head(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		t.Errorf("HEAD: got %d, length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestPageSnapshotGetsRequestContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	var got any
	h := New(Options{Snapshot: func(ctx context.Context) Snapshot { got = ctx.Value(key{}); return Snapshot{} }})
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(context.WithValue(context.Background(), key{}, "req"))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "req" {
		t.Errorf("snapshot context: got %v", got)
	}
}

// credentialName matches field names that could carry a credential.
var credentialName = regexp.MustCompile(`(?i)secret|key|password|passwd|bearer|credential|assertion|cert|^token(s|value)?$|accesstoken|authorization`)

// TestSnapshotHasNoCredentialField guards the page's promise that no token, secret or key can
// ever be shown: the Snapshot it renders has no field that could hold one. Token (a
// TokenState) is the only field of that family and holds a state name.
func TestSnapshotHasNoCredentialField(t *testing.T) {
	t.Parallel()
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeOf(time.Time{}) {
			return
		}
		seen[typ] = true
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if f.Name == "Token" && f.Type == reflect.TypeOf(TokenState("")) {
				continue
			}
			if credentialName.MatchString(f.Name) {
				t.Errorf("%s.%s could hold a credential", path, f.Name)
			}
			walk(path+"."+f.Name, f.Type)
		}
	}
	walk("Snapshot", reflect.TypeOf(Snapshot{}))
}

func TestShort(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 12*time.Minute + 59*time.Second: "12m", 3*time.Hour + 5*time.Minute: "3h05m",
		52 * time.Hour: "2d4h",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v): got %q, want %q", d, got, want)
		}
	}
}

// BenchmarkRender10k serves the first page of 10,000 tenants, filtered or not: the snapshot
// is sorted, filtered and paged on every request.
func BenchmarkRender10k(b *testing.B) {
	h := handler(many(10000))
	for _, q := range []string{"", "?q=eu+ok&page=3"} {
		b.Run("q="+q, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/"+q, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
