package proxy_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// seen is what one loopback upstream received: the path and the token's audience per call.
type seen struct {
	mu    sync.Mutex
	calls []string // "METHOD path aud"
}

func (s *seen) handler(w http.ResponseWriter, r *http.Request) {
	aud := "none"
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if parts := strings.Split(b, "."); len(parts) == 3 {
			if p, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
				var c struct {
					Aud string `json:"aud"`
				}
				if json.Unmarshal(p, &c) == nil {
					aud = c.Aud
				}
			}
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path+" "+aud)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"@odata.nextLink":"https://`+r.Host+r.URL.Path+`?$skiptoken=x","value":[]}`)
}

func (s *seen) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

// surfaceGateway is a gateway over two loopback upstreams, one for MDE's hosts and one for
// Graph, with real tokens from the emulator's Entra.
func surfaceGateway(t *testing.T, opts proxy.Options) (gw string, mde, graph *seen) {
	t.Helper()
	src := benchSource(t, []emulator.Tenant{{ID: tenantID(0), Name: "t0", Consented: true}})
	mde, graph = &seen{}, &seen{}
	mdeSrv, graphSrv := httptest.NewTLSServer(http.HandlerFunc(mde.handler)), httptest.NewTLSServer(http.HandlerFunc(graph.handler))
	t.Cleanup(mdeSrv.Close)
	t.Cleanup(graphSrv.Close)
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: mdeSrv.URL},
		Tenants: []routing.TenantOptions{{Name: "t0", ID: tenantID(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	gu, _ := url.Parse(graphSrv.URL)
	pool := x509.NewCertPool()
	pool.AddCert(mdeSrv.Certificate())
	pool.AddCert(graphSrv.Certificate())
	opts.Routes, opts.Tokens, opts.GraphURL, opts.Transport = routes, src, gu, proxy.NewTransport(pool, 0)
	front := httptest.NewServer(newHandler(t, opts))
	t.Cleanup(front.Close)
	return front.URL, mde, graph
}

func call(t *testing.T, method, u string) (int, http.Header) {
	t.Helper()
	status, hdr, _ := callBody(t, method, u)
	return status, hdr
}

func callBody(t *testing.T, method, u string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("X-Tenant-ID", "t0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, string(b)
}

// Each surface reaches its host with a token for its own audience: MDE's legacy resource,
// Defender XDR's, Graph's; only Graph's security API is forwarded to Graph.
func TestSurfacesTokensAndHosts(t *testing.T) {
	t.Parallel()
	gw, mde, graph := surfaceGateway(t, proxy.Options{})
	const (
		mdeAud   = "https://api.securitycenter.microsoft.com"
		xdrAud   = "https://api.security.microsoft.com"
		graphAud = "https://graph.microsoft.com"
	)
	tests := []struct {
		method, path string
		status       int
		mde, graph   string // what each upstream saw; "" nothing
	}{
		{"GET", "/api/machines", 200, "GET /api/machines " + mdeAud, ""},
		{"GET", "/api/incidents", 200, "GET /api/incidents " + xdrAud, ""},
		{"POST", "/API/advancedhunting/run", 200, "POST /API/advancedhunting/run " + xdrAud, ""},
		{"GET", "/v1.0/security/incidents", 200, "", "GET /v1.0/security/incidents " + graphAud},
		{"GET", "/beta/security/alerts_v2/x", 200, "", "GET /beta/security/alerts_v2/x " + graphAud},
		{"POST", "/tenants/t0/v1.0/security/runHuntingQuery", 200, "", "POST /v1.0/security/runHuntingQuery " + graphAud},
		{"GET", "/v1.0/users", 404, "", ""},
		{"GET", "/v1.0/securityx", 404, "", ""},
	}
	for _, tt := range tests {
		status, _ := call(t, tt.method, gw+tt.path)
		if status != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, status, tt.status)
		}
		if got := strings.Join(mde.take(), ","); got != tt.mde {
			t.Errorf("%s %s: MDE host saw %q, want %q", tt.method, tt.path, got, tt.mde)
		}
		if got := strings.Join(graph.take(), ","); got != tt.graph {
			t.Errorf("%s %s: Graph host saw %q, want %q", tt.method, tt.path, got, tt.graph)
		}
	}
}

// A Graph security nextLink comes back on the gateway, which forwards it to Graph.
func TestGraphNextLinkRewritten(t *testing.T) {
	t.Parallel()
	gw, _, graph := surfaceGateway(t, proxy.Options{})
	status, _, body := callBody(t, "GET", gw+"/v1.0/security/incidents")
	want := `"@odata.nextLink":"` + gw + `/v1.0/security/incidents?$skiptoken=x"`
	if status != 200 || !strings.Contains(body, want) {
		t.Fatalf("%d %s, want the nextLink %s", status, body, want)
	}
	graph.take()
	next := strings.TrimSuffix(strings.TrimPrefix(want, `"@odata.nextLink":"`), `"`)
	if status, _ := call(t, "GET", next); status != 200 {
		t.Errorf("following the nextLink: %d", status)
	}
	if got := graph.take(); len(got) != 1 || !strings.HasPrefix(got[0], "GET /v1.0/security/incidents ") {
		t.Errorf("Graph saw %v", got)
	}
}

// Regression (issue 17): the /api prefix was stripped case-sensitively, so Microsoft's own
// spelling /API/machines/{id}/runliveresponse was shaped as "other" at 100/min. It is shaped
// at live response's 10/min: the eleventh call is the gateway's 429 and never reaches MDE.
func TestUpperCaseAPIShapedPerAPI(t *testing.T) {
	t.Parallel()
	limiter := proxy.NewMemoryLimiter(proxy.MemoryLimiterOptions{TenantIDs: []string{tenantID(0)}, Minute: time.Hour})
	gw, mde, _ := surfaceGateway(t, proxy.Options{Limiter: limiter, MaxWait: time.Millisecond})
	for i := range 10 {
		if status, _ := call(t, "POST", gw+"/API/machines/m1/runliveresponse"); status != 200 {
			t.Fatalf("call %d: %d", i, status)
		}
	}
	status, hdr := call(t, "POST", gw+"/API/machines/m2/RunLiveResponse")
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Errorf("11th live response in the minute: %d, Retry-After %q; want the gateway's 429", status, hdr.Get("Retry-After"))
	}
	if n := len(mde.take()); n != 10 {
		t.Errorf("MDE saw %d live responses, want 10", n)
	}
	// Another API of the same tenant is not held back.
	if status, _ := call(t, "POST", gw+"/api/machines/m1/isolate"); status != 200 {
		t.Errorf("isolate after live response's quota ran out: %d", status)
	}
}

// GetPackageUri is documented at 2 per minute: the third call in a minute is the gateway's
// 429 and never reaches MDE, while polling the same machine action is not held back.
func TestGetPackageUriShaped(t *testing.T) {
	t.Parallel()
	limiter := proxy.NewMemoryLimiter(proxy.MemoryLimiterOptions{TenantIDs: []string{tenantID(0)}, Minute: time.Hour})
	gw, mde, _ := surfaceGateway(t, proxy.Options{Limiter: limiter, MaxWait: time.Millisecond})
	for i := range 2 {
		if status, _ := call(t, "GET", gw+"/api/machineactions/a1/GetPackageUri"); status != 200 {
			t.Fatalf("call %d: %d", i, status)
		}
	}
	if status, _ := call(t, "GET", gw+"/api/machineactions/a2/getPackageUri"); status != http.StatusTooManyRequests {
		t.Errorf("third GetPackageUri in the minute: %d, want the gateway's 429", status)
	}
	if status, _ := call(t, "GET", gw+"/api/machineactions/a1"); status != 200 {
		t.Errorf("polling the action after GetPackageUri's quota ran out: %d", status)
	}
	if got := mde.take(); len(got) != 3 {
		t.Errorf("MDE saw %v, want 2 GetPackageUri and 1 poll", got)
	}
}
