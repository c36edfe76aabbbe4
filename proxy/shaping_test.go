package proxy_test

import (
	"io"
	"os"

	"github.com/rs/zerolog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// 150 requests at once for a 100-per-window family, against an emulated MDE that allows 100
// per window: the gateway spreads them so MDE never answers 429. The window is 1 s instead
// of a minute (MemoryLimiterOptions.Minute), so the test takes about 3 s.
func TestShapingAvoidsUpstream429(t *testing.T) {
	const window = time.Second
	emu, err := emulator.Start(emulator.Options{Apps: []emulator.App{{ClientID: benchClient, Secret: "s"}},
		Tenants: []emulator.Tenant{{ID: tenantID(0), Name: "t0", Consented: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	src, err := tokens.New(tokens.Options{Authority: emu.LoginURL(), ClientID: benchClient, Secret: "s",
		Scope: "https://api.securitycenter.microsoft.com/.default", HTTPClient: emu.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: emu.RegionURL("global")},
		Tenants: []routing.TenantOptions{{Name: "t0", ID: tenantID(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	transport := proxy.NewTransport(emu.CertPool(), 0)
	warm(t, transport, emu.RegionURL("global"), n)
	emu.SetQuota(100, window)
	h := newHandler(t, proxy.Options{Routes: routes, Tokens: src, Transport: transport,
		AnonymousMaxConcurrent: -1, // 150 callers at once, all anonymous: the shaping is under test
		Limiter:                proxy.NewMemoryLimiter(proxy.MemoryLimiterOptions{TenantIDs: []string{tenantID(0)}, Minute: window}),
		Logger:                 zerolog.New(os.Stderr).Level(zerolog.WarnLevel)})
	gw := httptest.NewServer(h)
	defer gw.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	statuses := make(chan int, n)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", gw.URL+"/api/alerts?$top=1", nil)
			req.Header.Set("X-Tenant-ID", "t0")
			resp, err := client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	t.Logf("%d requests in %v: %v", n, time.Since(start).Round(time.Millisecond), got)
	if th := emu.Throttled(); th != 0 {
		t.Errorf("MDE answered 429 %d times, want 0", th)
	}
	if got[200] != n {
		t.Errorf("answers %v, want %d × 200 (each waits less than max_wait)", got, n)
	}
}

// warm opens n connections from transport to base and leaves them idle in its pool. The
// limiter's guarantee holds while the delay between its admission and MDE's count varies by
// less than its slack, 1 s in these tests: n TLS handshakes at once, under -race on a busy
// machine, can take longer than that, which tests the machine and not the limiter.
func warm(t *testing.T, transport *http.Transport, base string, n int) {
	t.Helper()
	client := &http.Client{Transport: transport}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(base + "/api/alerts") // no token: a 401 MDE does not count
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
}
