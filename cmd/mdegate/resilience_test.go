package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/blackhole"
	"github.com/mdegate/mdegate/internal/emulator"
)

// A region that answers 503 (its front end up, its service not) is marked down like a dead
// one: GETs in flight fail over to global and no caller sees the 503; a machine isolation is
// never replayed, so MDE's 503 reaches its caller.
func TestRegion503(t *testing.T) {
	t.Parallel()
	t.Run("GETs fail over", func(t *testing.T) {
		g := startGateway(t, "limits: {shape: false}\n")
		g.emu.FailRegion("eu", http.StatusServiceUnavailable)
		const workers, each = 8, 10
		var failed atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					req, _ := http.NewRequest("GET", g.URL+"/api/alerts?$top=1", nil)
					req.Header.Set("X-Tenant-ID", "contoso")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Errorf("%d of %d GETs failed while eu answered 503, want 0", n, workers*each)
		}
		byRegion := map[string]map[int]int{}
		for _, s := range apiRequests(g.emu, demoContoso) {
			if byRegion[s.Region] == nil {
				byRegion[s.Region] = map[int]int{}
			}
			byRegion[s.Region][s.Status]++
		}
		// Every GET that reached eu before it was marked down got a 503 and was replayed on
		// global; at most the first wave (one per worker) reached eu.
		if n := byRegion["eu"][503]; n == 0 || n > workers {
			t.Errorf("eu saw %d requests, want 1..%d before it was marked down (%v)", n, workers, byRegion)
		}
		if n := byRegion["global"][200]; n != workers*each {
			t.Errorf("global answered %d, want all %d (%v)", n, workers*each, byRegion)
		}
		var failovers int
		for _, l := range g.logs.waitLines(t, "request", workers*each) {
			if l["failover_from"] == "eu" {
				failovers++
			}
		}
		if failovers != byRegion["eu"][503] {
			t.Errorf("%d log lines with failover_from eu, want %d", failovers, byRegion["eu"][503])
		}
	})
	t.Run("isolate is not replayed", func(t *testing.T) {
		g := startGateway(t, "")
		g.emu.FailRegion("eu", http.StatusServiceUnavailable)
		resp, body := isolate(t, g)
		if resp.StatusCode != 503 {
			t.Fatalf("status %d %s, want MDE's 503 passed through", resp.StatusCode, body)
		}
		if code, _, _ := mdeError(t, body); !strings.Contains(code, "ServiceUnavailable") {
			t.Errorf("error code %q, want MDE's", code)
		}
		if seen := apiRequests(g.emu, demoContoso); len(seen) != 1 || seen[0].Region != "eu" {
			t.Errorf("MDE saw %v, want one isolation, on eu", seen)
		}
		if n := g.emu.Isolations(demoContoso); n != 0 {
			t.Errorf("%d isolations ran", n)
		}
		// The 503 marked eu down: the next GET goes straight to global.
		g.emu.ResetRequests()
		if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
			t.Errorf("GET after the 503: %d", resp.StatusCode)
		}
		if seen := apiRequests(g.emu, demoContoso); len(seen) != 1 || seen[0].Region != "global" {
			t.Errorf("GET after the 503 went to %v, want global only", seen)
		}
	})
}

// A family's own upstream timeout (advanced hunting's, configured short) answers 504
// UpstreamTimeout when MDE is slower, without failing over; a family on the default timeout
// waits for the same slow region; and an answer that has started streaming is never cut by
// its family's timer, however long the caller takes to read it.
func TestFamilyTimeout(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {families: {advancedqueries: {timeout: 300ms}, exports: {timeout: 300ms}}}\n",
		func(o *emulator.Options) { o.InventoryRecords = 2000 })

	t.Run("hunting cut", func(t *testing.T) {
		g.emu.ResetRequests()
		g.emu.SetRegionLatency("eu", 2*time.Second)
		defer g.emu.SetRegionLatency("eu", 0)
		resp, body := g.do(t, "POST", "/api/advancedqueries/run", "contoso", strings.NewReader(`{"Query":"DeviceInfo | take 1"}`))
		if code, _, _ := mdeError(t, body); resp.StatusCode != 504 || code != "UpstreamTimeout" {
			t.Fatalf("got %d %s, want 504 UpstreamTimeout", resp.StatusCode, body)
		}
		// MDE saw one request, on eu, and never got to answer it: the gateway gave up first.
		if seen := g.emu.Requests(); len(seen) != 1 || seen[0].Region != "eu" || seen[0].Status != 0 {
			t.Errorf("MDE saw %+v, want one unanswered request on eu (no failover)", seen)
		}
	})
	t.Run("default family not cut", func(t *testing.T) {
		g.emu.SetRegionLatency("eu", time.Second)
		defer g.emu.SetRegionLatency("eu", 0)
		if resp, body := g.do(t, "GET", "/api/alerts?$top=1", "contoso", nil); resp.StatusCode != 200 {
			t.Fatalf("alerts behind a 1 s latency: %d %s, want 200 (default timeout 5 m)", resp.StatusCode, body)
		}
	})
	t.Run("stream not cut", func(t *testing.T) {
		// MDE sends the headers and a first record at once, then the rest after 600 ms:
		// twice the family's timeout, the answer half sent.
		g.emu.SetStreamPause(600 * time.Millisecond)
		req, _ := http.NewRequest("GET", g.URL+"/api/machines/SoftwareInventoryByMachine?pageSize=2000", nil)
		req.Header.Set("X-Tenant-ID", "contoso")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		full, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("stream cut after %d bytes: %v", len(full), err)
		}
		if n := bytes.Count(full, []byte(`"recordIndex"`)); n != 2000 || !bytes.HasSuffix(full, []byte("]}")) {
			t.Fatalf("stream of %d bytes incomplete: %d records, ends %q", len(full), n, full[max(len(full)-40, 0):])
		}
	})
	// The gateway was still copying the answer when the family's timer would have fired.
	lines := g.logs.waitLines(t, "request", 3)
	if l := lines[len(lines)-1]; l["status"] != 200.0 || l["duration_ms"].(float64) < 300 {
		t.Errorf("stream logged %v, want status 200 after more than the 300 ms timeout", l)
	}
}

// A caller that leaves while the gateway waits for it, for a quota slot or out an MDE 429's
// Retry-After, ends the wait at once: its call is logged as 499 ClientClosedRequest long
// before the wait would have ended, and MDE never sees the request again.
func TestCallerLeavesDuringWait(t *testing.T) {
	t.Parallel()
	// One alert per minute, with waits of up to 2 m allowed: the second call waits about a
	// minute for its slot. (Shaping is per family, so machines is not held back by alerts.)
	g := startGateway(t, "limits: {max_wait: 2m, families: {alerts: {per_minute: 1}}}\n")
	leave := func(t *testing.T, method, path, body string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, g.URL+path, strings.NewReader(body))
		req.Header.Set("X-Tenant-ID", "contoso")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("got an answer %d, want the caller to give up first", resp.StatusCode)
		}
	}
	tests := []struct {
		name, method, path, body string
		setup                    func()
		wantUpstream             int // requests MDE saw for the call that left
	}{
		{"quota wait", "GET", "/api/alerts", "", func() {
			if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
				t.Fatalf("first alert call: %d", resp.StatusCode)
			}
			g.emu.ResetRequests()
		}, 0},
		{"429 wait", "POST", "/api/advancedqueries/run", `{"Query":"DeviceInfo | take 1"}`, func() {
			g.emu.ResetRequests()
			g.emu.Throttle(demoContoso, 60*time.Second)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			n := len(g.logs.lines(t, "request"))
			leave(t, tt.method, tt.path, tt.body)
			lines := g.logs.waitLines(t, "request", n+1)
			var l map[string]any
			for _, x := range lines {
				if x["path"] == tt.path {
					l = x
				}
			}
			if l == nil || l["status"] != 499.0 || l["error"] != "ClientClosedRequest" {
				t.Fatalf("log line %v, want status 499 ClientClosedRequest within seconds of leaving (the wait was a minute)", l)
			}
			// Give a replay that should not happen the time to reach MDE.
			time.Sleep(100 * time.Millisecond)
			if seen := apiRequests(g.emu, demoContoso); len(seen) != tt.wantUpstream {
				t.Errorf("MDE saw %d requests, want %d: %+v", len(seen), tt.wantUpstream, seen)
			}
		})
	}
}

// An endpoint that accepts connections but never answers does not hold up start-up: the
// first probe round is bounded, ends with that endpoint unreachable, and the gateway listens
// and serves the auto tenant from a healthy region; `mdegate regions` shows it unreachable.
func TestStartupProbeBound(t *testing.T) {
	t.Parallel()
	hang := blackhole.Listen(t)
	secret := "test-secret~" + strings.Repeat("h4", 8)
	emu := startEmulator(t, secret, withTailwind)
	g := serveGateway(t, emu, secret, func(ca string) string {
		y := demoYAML(emu, "127.0.0.1:0", secret, ca, tailwindAuto)
		return strings.Replace(y, "  regions:\n", "  regions:\n    hang: https://"+hang+"\n", 1)
	})
	// serveGateway returned: "mdegate listening" is in the log, after the first round.
	probes := g.logs.lines(t, "region probe")
	if len(probes) == 0 {
		t.Fatalf("listening without a probe round:\n%s", g.logs)
	}
	first := probes[0]
	if rtt := first["rtt_ms"].(map[string]any); rtt["hang"] != "unreachable" || rtt["global"] == "unreachable" {
		t.Errorf("first probe round %v, want hang unreachable and global measured", first)
	}
	if first["nearest"] == "hang" {
		t.Errorf("auto picked the hanging endpoint: %v", first)
	}
	if resp, body := g.do(t, "GET", "/api/alerts?$top=1", "tailwind", nil); resp.StatusCode != 200 {
		t.Errorf("auto tenant: %d %s", resp.StatusCode, body)
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"regions", "-config", g.config}, &out, io.Discard); err != nil {
		t.Fatalf("mdegate regions: %v", err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "hang ") && (!strings.Contains(line, " no ") || strings.Contains(line, "<- auto")) {
			t.Errorf("mdegate regions shows the hanging endpoint as %q, want unreachable, not auto", line)
		}
	}
	if !strings.Contains(out.String(), "hang ") {
		t.Errorf("mdegate regions does not list the hanging endpoint:\n%s", out.String())
	}
}

// Request bodies up to 1 MiB are kept for a replay; larger ones stream to MDE once, so an MDE
// 429 on a 2 MiB hunting query reaches the caller with its Retry-After even though the wait
// is short, whether the caller gave a Content-Length or not.
func TestBigBodyNotReplayed(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {max_wait: 5s}\n")
	query := func(size int) []byte {
		pad := size - len(`{"Query":"DeviceInfo | take 1","Pad":""}`)
		return []byte(`{"Query":"DeviceInfo | take 1","Pad":"` + strings.Repeat("x", pad) + `"}`)
	}
	// chunked hides the length, so the gateway finds out only by reading.
	type chunked struct{ io.Reader }
	tests := []struct {
		name         string
		size         int
		hideLength   bool
		wantStatus   int
		wantUpstream int
	}{
		{"512 KiB replayed", 512 << 10, false, 200, 2},
		{"1 MiB replayed", 1 << 20, true, 200, 2},
		{"2 MiB passes through", 2 << 20, false, 429, 1},
		{"2 MiB chunked passes through", 2 << 20, true, 429, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.emu.ResetRequests()
			g.emu.Throttle(demoContoso, time.Second)
			body := query(tt.size)
			var rd io.Reader = bytes.NewReader(body)
			if tt.hideLength {
				rd = chunked{rd}
			}
			resp, got := g.do(t, "POST", "/api/advancedqueries/run", "contoso", rd, "Content-Type", "application/json")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %.200s, want %d", resp.StatusCode, got, tt.wantStatus)
			}
			if tt.wantStatus == 429 && resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want MDE's 1", resp.Header.Get("Retry-After"))
			}
			seen := apiRequests(g.emu, demoContoso)
			if len(seen) != tt.wantUpstream {
				t.Fatalf("MDE saw %d requests, want %d", len(seen), tt.wantUpstream)
			}
			for _, s := range seen {
				if !bytes.Equal(s.Body, body) {
					t.Errorf("MDE got a body of %d bytes, want the caller's %d", len(s.Body), len(body))
				}
			}
		})
	}
}
