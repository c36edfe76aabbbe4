package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/emulator"
)

// page is one page of an OData collection of machines.
type page struct {
	Context  string `json:"@odata.context"`
	NextLink string `json:"@odata.nextLink"`
	Value    []struct{ ID string }
}

// getURL fetches an absolute URL as a tool would: no tenant header, nothing but the URL.
func getURL(t *testing.T, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// A tool configured with base URL .../tenants/{tenant} walks every page of /api/machines by
// following @odata.nextLink, for two tenants interleaved, and gets each tenant's own data,
// whichever host MDE puts in its links.
func TestPagingThroughTenantPrefix(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	for _, linkBase := range []string{"", "https://api-us3.securitycenter.microsoft.com", "https://api.securitycenter.microsoft.com"} {
		t.Run("links on "+cmpOr(linkBase, "the region"), func(t *testing.T) {
			g.emu.SetNextLinkBase(linkBase)
			defer g.emu.SetNextLinkBase("")
			g.emu.ResetRequests()
			type walker struct {
				name, base, next string
				ids              map[string]bool
				pages            int
			}
			ws := []*walker{
				{name: "contoso", base: g.URL + "/tenants/contoso"},
				{name: "fabrikam", base: g.URL + "/tenants/" + demoFabrikam}, // by GUID
			}
			for _, w := range ws {
				w.next, w.ids = w.base+"/api/machines", map[string]bool{}
			}
			for active := true; active; {
				active = false
				for _, w := range ws { // one page of each in turn
					if w.next == "" {
						continue
					}
					active = true
					resp, body := getURL(t, w.next)
					if resp.StatusCode != 200 {
						t.Fatalf("%s: GET %s: %d %s", w.name, w.next, resp.StatusCode, body)
					}
					var p page
					if err := json.Unmarshal(body, &p); err != nil {
						t.Fatalf("%s: %v: %s", w.name, err, body)
					}
					for _, m := range p.Value {
						if !strings.HasPrefix(m.ID, w.name+"-") {
							t.Errorf("%s got machine %q of another tenant", w.name, m.ID)
						}
						w.ids[m.ID] = true
					}
					if !strings.HasPrefix(p.Context, w.base+"/api/$metadata") {
						t.Errorf("%s: @odata.context %q does not point at the gateway's %s", w.name, p.Context, w.base)
					}
					if p.NextLink != "" && !strings.HasPrefix(p.NextLink, w.base+"/api/machines?") {
						t.Fatalf("%s: @odata.nextLink %q does not point at the gateway's %s", w.name, p.NextLink, w.base)
					}
					w.next = p.NextLink
					w.pages++
					if w.pages > 10 {
						t.Fatalf("%s: more pages than machines", w.name)
					}
				}
			}
			for _, w := range ws {
				if len(w.ids) != 7 || w.pages != 3 {
					t.Errorf("%s: %d machines in %d pages, want 7 in 3", w.name, len(w.ids), w.pages)
				}
			}
			// What MDE saw: the prefix stripped, each page for the right tenant.
			for _, s := range g.emu.Requests() {
				if s.Path != "/api/machines" {
					t.Errorf("upstream path %q, want /api/machines", s.Path)
				}
				if want := map[string]string{"eu": demoContoso, "us": demoFabrikam}[s.Region]; s.TenantID != want {
					t.Errorf("region %s saw tenant %s, want %s", s.Region, s.TenantID, want)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// MDE is asked for gzip whatever the caller accepts, and its gzip answer is decoded and
// rewritten; the caller gets plain JSON (see links.go for why it is not encoded again).
func TestLinksInGzipAnswers(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	for _, enc := range []string{"gzip", "identity"} {
		t.Run(enc, func(t *testing.T) {
			g.emu.ResetRequests()
			resp, body := getURL(t, g.URL+"/tenants/contoso/api/machines", "Accept-Encoding", enc)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Content-Encoding"); got != "" {
				t.Fatalf("Content-Encoding %q, want a plain answer", got)
			}
			if resp.ContentLength != -1 && resp.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d sent with a %d-byte rewritten body", resp.ContentLength, len(body))
			}
			var p page
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if want := g.URL + "/tenants/contoso/api/machines?$skip=3"; p.NextLink != want {
				t.Errorf("nextLink %q, want %q", p.NextLink, want)
			}
			seen := g.emu.Requests()
			if len(seen) != 1 || seen[0].Header.Get("Accept-Encoding") != "gzip" || seen[0].Status != 200 {
				t.Fatalf("MDE saw %+v, want one request accepting gzip", seen)
			}
		})
	}
}

// SAS download links point at another host: they pass byte for byte, and so does a link to
// any host that is not MDE's.
func TestOtherHostsUntouched(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	resp, body := g.do(t, "GET", "/tenants/contoso/api/machines/SoftwareInventoryExport", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var export struct {
		Context     string `json:"@odata.context"`
		ExportFiles []string
	}
	if err := json.Unmarshal(body, &export); err != nil {
		t.Fatal(err)
	}
	if len(export.ExportFiles) != 1 || export.ExportFiles[0] != emulator.ExportFileURL {
		t.Errorf("exportFiles %q, want the SAS URL untouched: %q", export.ExportFiles, emulator.ExportFileURL)
	}
	if !strings.HasPrefix(export.Context, g.URL+"/tenants/contoso/api/") {
		t.Errorf("@odata.context %q not rewritten", export.Context)
	}
	if strings.Contains(g.logs.String(), "SECRETSAS") {
		t.Error("the gateway logged a SAS signature")
	}

	g.emu.SetNextLinkBase("https://mdeexport.blob.core.windows.net")
	defer g.emu.SetNextLinkBase("")
	_, body = g.do(t, "GET", "/tenants/contoso/api/machines", "", nil)
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if want := "https://mdeexport.blob.core.windows.net/api/machines?$skip=3"; p.NextLink != want {
		t.Errorf("nextLink %q, want %q untouched", p.NextLink, want)
	}
}

// Path prefix, header, host, default: each selects the tenant; two that disagree are a 400.
func TestTenantSelection(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "routing: {host_suffix: .mdegate.local}\n")
	const none = ""
	tests := []struct {
		name, path, header, host string
		status                   int
		want                     string // tenant ID MDE saw, or the error code
	}{
		{"path prefix", "/tenants/contoso/api/alerts", none, none, 200, demoContoso},
		{"path prefix by GUID", "/tenants/" + strings.ToUpper(demoFabrikam) + "/api/alerts", none, none, 200, demoFabrikam},
		{"header", "/api/alerts", "fabrikam", none, 200, demoFabrikam},
		{"host", "/api/alerts", none, "Contoso.mdegate.local", 200, demoContoso},
		{"host with port", "/api/alerts", none, "fabrikam.MDEGATE.local:8080", 200, demoFabrikam},
		{"host outside the suffix names none", "/api/alerts", none, "contoso.example", 400, "MissingTenant"},
		{"path and header agree (alias and GUID)", "/tenants/contoso/api/alerts", demoContoso, none, 200, demoContoso},
		{"all three agree", "/tenants/fabrikam/api/alerts", "FABRIKAM", "fabrikam.mdegate.local", 200, demoFabrikam},
		{"path and header conflict", "/tenants/contoso/api/alerts", "fabrikam", none, 400, "TenantConflict"},
		{"header and host conflict", "/api/alerts", "contoso", "fabrikam.mdegate.local", 400, "TenantConflict"},
		{"path and host conflict", "/tenants/fabrikam/api/alerts", none, "contoso.mdegate.local", 400, "TenantConflict"},
		{"unknown tenant in the path", "/tenants/tailspin/api/alerts", none, none, 404, "UnknownTenant"},
		{"unknown tenant in the host", "/api/alerts", "contoso", "tailspin.mdegate.local", 404, "UnknownTenant"},
		{"prefix without /api", "/tenants/contoso/admin", none, none, 404, "NotFound"},
		{"prefix alone", "/tenants/contoso", none, none, 404, "NotFound"},
		{"nothing", "/api/alerts", none, none, 400, "MissingTenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.emu.ResetRequests()
			var hdr []string
			if tt.host != "" {
				hdr = []string{"Host", tt.host}
			}
			resp, body := g.do(t, "GET", tt.path+"?$top=1", tt.header, nil, hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				code, msg, _ := mdeError(t, body)
				if code != tt.want {
					t.Errorf("code %q, want %q (%s)", code, tt.want, msg)
				}
				if code == "TenantConflict" && strings.Count(msg, "tenant \"") != 2 {
					t.Errorf("conflict message %q does not name both tenants", msg)
				}
				if n := len(g.emu.Requests()); n != 0 {
					t.Errorf("MDE saw %d requests for a refused call", n)
				}
				return
			}
			seen := g.emu.Requests()
			if len(seen) != 1 || seen[0].TenantID != tt.want || seen[0].Path != "/api/alerts" || seen[0].RawQuery != "$top=1" {
				t.Fatalf("MDE saw %+v, want /api/alerts?$top=1 for %s", seen, tt.want)
			}
		})
	}

	t.Run("default tenant", func(t *testing.T) {
		g := startGateway(t, "routing: {default_tenant: fabrikam}\n")
		for _, tt := range []struct{ header, want string }{{"", demoFabrikam}, {"contoso", demoContoso}} {
			g.emu.ResetRequests()
			resp, body := g.do(t, "GET", "/api/alerts", tt.header, nil)
			if seen := g.emu.Requests(); resp.StatusCode != 200 || len(seen) != 1 || seen[0].TenantID != tt.want {
				t.Errorf("header %q: status %d (%s), want %s's data", tt.header, resp.StatusCode, body, tt.want)
			}
		}
	})
}

// The base links point at: public_url when set, else the request's Host, with
// X-Forwarded-Proto/Host believed only from trusted_proxies.
func TestLinkBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, extra string
		want        string // prefix of the rewritten nextLink; "" means the gateway's own URL
	}{
		{"from the request", "", ""},
		{"forwarded headers from an untrusted peer", "trusted_proxies: [10.0.0.0/8]\n", ""},
		{"forwarded headers from a trusted proxy", "trusted_proxies: [10.0.0.0/8, 127.0.0.1]\n", "https://mde.example.com"},
		{"public_url", "public_url: https://mdegate.example.com/mde/\ntrusted_proxies: [127.0.0.0/8]\n", "https://mdegate.example.com/mde"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, tt.extra)
			want := cmpOr(tt.want, g.URL) + "/tenants/contoso/api/machines?$skip=3"
			_, body := g.do(t, "GET", "/tenants/contoso/api/machines", "", nil,
				"X-Forwarded-Proto", "https", "X-Forwarded-Host", "mde.example.com")
			var p page
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.NextLink != want {
				t.Errorf("nextLink %q, want %q", p.NextLink, want)
			}
		})
	}
}

// A large gzip answer is decoded and rewritten as it flows: the live heap stays flat, and the
// nextLink at its very end comes out rewritten.
func TestStreamsLargeGzipAnswer(t *testing.T) {
	g := startGateway(t, "")
	const records = 16 << 10 // ~8 MiB of JSON
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	base := liveHeap()
	var peak uint64
	req, _ := http.NewRequest("GET", g.URL+fmt.Sprintf("/tenants/contoso/api/machines/SoftwareInventoryByMachine?pageSize=%d", records), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("status %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	var n int64
	tail := make([]byte, 0, 1024)
	buf := make([]byte, 32<<10)
	for i := 0; ; i++ {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		tail = append(tail, buf[:m]...)
		if len(tail) > 512 {
			tail = append(tail[:0], tail[len(tail)-512:]...)
		}
		if i%64 == 0 {
			peak = maxU(peak, liveHeap())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if seen := g.emu.Requests(); len(seen) != 1 || seen[0].Header.Get("Accept-Encoding") != "gzip" {
		t.Errorf("MDE saw %d requests, want one that accepts gzip", len(seen))
	}
	growth := int64(peak) - int64(base)
	t.Logf("streamed %d MiB of JSON from gzip; live heap grew by at most %.1f MiB", n>>20, float64(growth)/(1<<20))
	if n < 4<<20 {
		t.Fatalf("only %d bytes", n)
	}
	if growth > 8<<20 {
		t.Errorf("live heap grew by %d MiB: the answer is being buffered", growth>>20)
	}
	if want := `"@odata.nextLink":"` + g.URL + `/tenants/contoso/api/machines/SoftwareInventoryByMachine?pageSize=`; !strings.Contains(string(tail), want) {
		t.Errorf("the answer's end %q lacks %q", tail, want)
	}
}
