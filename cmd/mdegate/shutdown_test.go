package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowCalls starts n calls that MDE answers slowly and returns their statuses (0 for a
// transport error) once all have ended.
func slowCalls(g *testGateway, n int) <-chan []int {
	out := make(chan []int, 1)
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = getAll(&http.Client{Transport: &http.Transport{}}, g.URL+"/api/alerts", "contoso")
		}()
	}
	go func() { wg.Wait(); out <- statuses }()
	return out
}

// waitInFlight waits until the gateway counts n calls in flight.
func waitInFlight(t *testing.T, g *testGateway, n int) {
	t.Helper()
	want := "mdegate_requests_in_flight " + strconv.Itoa(n) + "\n"
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, m := getText(t, g.URL+"/metrics"); strings.Contains(m, want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never %d calls in flight", n)
}

// SIGTERM (ctx cancelled) under load: the calls in flight finish, none is lost, and run
// returns nil (exit 0).
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	g.do(t, "GET", "/api/alerts", "contoso", nil) // warm the token
	g.emu.SetRegionLatency("eu", 500*time.Millisecond)
	const n = 20
	done := slowCalls(g, n)
	waitInFlight(t, g, n)
	start := time.Now()
	if err := g.stop(); err != nil {
		t.Fatalf("run returned %v, want nil (exit 0)", err)
	}
	for i, s := range <-done {
		if s != 200 {
			t.Errorf("call %d in flight at shutdown: status %d, want 200", i, s)
		}
	}
	if len(g.logs.lines(t, "stopped")) != 1 {
		t.Error("no 'stopped' line")
	}
	t.Logf("drained %d calls in %v", n, time.Since(start).Round(time.Millisecond))
}

// Calls still running at shutdown_timeout are cancelled, and the gateway still exits 0.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "shutdown_timeout: 300ms\n")
	g.do(t, "GET", "/api/alerts", "contoso", nil)
	g.emu.SetRegionLatency("eu", 5*time.Second)
	done := slowCalls(g, 3)
	waitInFlight(t, g, 3)
	start := time.Now()
	if err := g.stop(); err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with shutdown_timeout 300ms", d)
	}
	for i, s := range <-done {
		if s == 200 {
			t.Errorf("call %d finished though it outlived shutdown_timeout", i)
		}
	}
}

// A request that arrives when no generation is left (a connection that outlived the
// shutdown's cancellation) gets a 503 in MDE's error shape. Regression: it was http.Error's
// plain text "shutting down", which tools parsing MDE's errors could not read.
func TestNoGenerationAnswersMDEError(t *testing.T) {
	t.Parallel()
	gw := &gateway{} // what a connection sees after shutdown dropped the last generation
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest("GET", "/api/alerts", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	if code, _, _ := mdeError(t, rec.Body.Bytes()); code != "ServiceUnavailable" {
		t.Errorf("code %q, want ServiceUnavailable", code)
	}
}
