package proxy_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// Small JSON answers are rewritten whole and keep a (new) length; larger or unsized ones
// stream chunked; a small one whose links grow past the pooled buffer streams the rest. The
// caller gets the same bytes every way.
func TestSmallAnswers(t *testing.T) {
	const mde = "https://api.security.microsoft.com"
	page := func(links int) string {
		var b strings.Builder
		b.WriteString(`{"value":[`)
		for i := range links {
			b.WriteString(`{"@odata.nextLink":"` + mde + `/api/x?$skip=` + strconv.Itoa(i) + `"},`)
		}
		b.WriteString(`{}]}`)
		return b.String()
	}
	// A public URL long enough that 220 links grow a 16 KiB answer past the 32 KiB buffer.
	public := "https://gw.example/" + strings.Repeat("p", 120)
	tests := []struct {
		name      string
		body      string
		chunked   bool // the upstream sends no length
		wantSized bool // the caller gets a Content-Length
	}{
		{"one link", page(1), false, true},
		{"no link", `{"value":[]}`, false, true},
		{"just over the small size", page(1) + strings.Repeat(" ", 16<<10), false, false},
		{"unsized", page(3), true, false},
		{"grows past the buffer", page(220), false, false},
	}
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("case"))
		tt := tests[i]
		w.Header().Set("Content-Type", "application/json")
		if tt.chunked {
			w.(http.Flusher).Flush() // headers out before the body: no length
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
		}
		_, _ = io.WriteString(w, tt.body)
	}))
	defer upstream.Close()
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: upstream.URL},
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"}}})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse(public)
	pool := upstream.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	gw := httptest.NewServer(newHandler(t, proxy.Options{Routes: routes, Tokens: fixedTokens{},
		Transport: proxy.NewTransport(pool, 0), PublicURL: pub}))
	defer gw.Close()
	if len(page(220)) > 16<<10 || len(strings.ReplaceAll(page(220), mde, public)) <= 32<<10 {
		t.Fatalf("the growing case does not grow past the buffer: %d -> %d bytes", len(page(220)),
			len(strings.ReplaceAll(page(220), mde, public)))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", gw.URL+"/api/alerts?case="+strconv.Itoa(i), nil)
			req.Header.Set("X-Tenant-ID", "contoso")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(tt.body, mde, public); string(body) != want {
				t.Errorf("body differs: got %d bytes, want %d", len(body), len(want))
			}
			if sized := resp.ContentLength >= 0; sized != tt.wantSized {
				t.Errorf("Content-Length %d; want sized=%v", resp.ContentLength, tt.wantSized)
			}
			if resp.ContentLength >= 0 && resp.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
			}
		})
	}
}

// A small answer that breaks off before its Content-Length is read whole before the caller
// gets any of it, so it is never passed on cut short: the GET goes to the next endpoint, and
// with none left the caller gets a 502 in MDE's error shape.
func TestSmallAnswerCutShort(t *testing.T) {
	const body = `{"value":[{"id":"a"},{"id":"b"}]}`
	var cut atomic.Int32
	broken := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cut.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body[:10])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection closes mid-answer
	}))
	defer broken.Close()
	broken.Config.ErrorLog = log.New(io.Discard, "", 0)
	good := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	good.TLS = broken.TLS // the same certificate, so one pool trusts both
	good.StartTLS()
	defer good.Close()
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: good.URL, "eu": broken.URL},
		Tenants: []routing.TenantOptions{
			{Name: "contoso", ID: "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e", Region: "eu"},
			{Name: "fabrikam", ID: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", Region: "eu"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	pool := broken.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	gw := httptest.NewServer(newHandler(t, proxy.Options{Routes: routes, Tokens: fixedTokens{},
		Transport: proxy.NewTransport(pool, 0)}))
	defer gw.Close()
	get := func(tenant string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", gw.URL+"/api/alerts", nil)
		req.Header.Set("X-Tenant-ID", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v (an answer cut short must not reach the caller)", tenant, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: reading the answer: %v", tenant, err)
		}
		return resp.StatusCode, string(b)
	}
	if status, got := get("contoso"); status != 200 || got != body {
		t.Errorf("contoso: %d %q, want 200 and the whole answer from global", status, got)
	}
	if cut.Load() != 1 {
		t.Errorf("eu was asked %d times, want 1", cut.Load())
	}

	// With global gone too, nothing is left to fail over to.
	good.Close()
	if status, got := get("fabrikam"); status != http.StatusBadGateway || !strings.Contains(got, `"code":"`) {
		t.Errorf("fabrikam: %d %q, want 502 in MDE's error shape", status, got)
	}
}
