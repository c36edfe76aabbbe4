package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
)

// dropTenant removes a tenant's line from the demo config.
func dropTenant(name string) func(string) string {
	return func(y string) string {
		var out []string
		for _, l := range strings.Split(y, "\n") {
			if !strings.Contains(l, "{name: "+name+",") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
}

// A valid reload swaps tenants and log level at once and keeps the cached tokens of the
// tenants that stay.
func TestReloadValid(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "watch_config: false\n")
	if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Fatalf("contoso: %d", resp.StatusCode)
	}
	g.writeConfig(t, "127.0.0.1:0", "watch_config: false\n", dropTenant("fabrikam"), func(y string) string {
		return strings.Replace(y, "log: {level: info", "log: {level: warn", 1)
	})
	if !g.reload(t) {
		t.Fatalf("reload refused:\n%s", g.logs)
	}
	before := len(g.logs.lines(t, "request"))
	if resp, body := g.do(t, "GET", "/api/alerts", "fabrikam", nil); resp.StatusCode != 404 {
		t.Errorf("removed tenant: %d %s, want 404", resp.StatusCode, body)
	}
	if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Errorf("contoso after reload: %d", resp.StatusCode)
	}
	if n := g.emu.TokenRequests(demoContoso); n != 1 {
		t.Errorf("%d token requests for contoso, want 1 (its token kept across the reload)", n)
	}
	l := g.logs.lines(t, "config reloaded")[0]
	if l["tokens_kept"] != true || l["tenants"] != float64(2) {
		t.Errorf("reload line %v, want tokens_kept and 2 tenants", l)
	}
	time.Sleep(50 * time.Millisecond) // a request line would be written as its handler returns
	if after := len(g.logs.lines(t, "request")); after != before {
		t.Errorf("%d info request lines after the switch to warn, want none", after-before)
	}
	_, metrics := getText(t, g.URL+"/metrics")
	if !strings.Contains(metrics, `mdegate_config_reloads_total{result="ok"} 2`) {
		t.Error("reload not counted in /metrics")
	}
}

// An invalid config is refused with the same key-naming errors, logged, and the old one
// keeps serving.
func TestReloadInvalid(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "watch_config: false\n")
	g.writeConfig(t, "127.0.0.1:0", "watch_config: false\n", func(y string) string {
		return strings.Replace(y, "{name: contoso, id: "+demoContoso, "{name: contoso, id: contoso.onmicrosoft.com", 1)
	}, func(y string) string { return y + "limits: {upstream_timeot: 1s}\n" })
	if g.reload(t) {
		t.Fatal("an invalid config was applied")
	}
	l := g.logs.lines(t, "config reload refused")[0]
	problems := fmt.Sprint(l["problems"])
	for _, want := range []string{`tenants[0].id: is not a GUID (use the tenant ID, not a domain name)`, `unknown key "limits.upstream_timeot"`, "line "} {
		if !strings.Contains(problems, want) {
			t.Errorf("refusal %q lacks %q", problems, want)
		}
	}
	if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Errorf("old config stopped serving: %d %s", resp.StatusCode, body)
	}
	if _, m := getText(t, g.URL+"/metrics"); !strings.Contains(m, `mdegate_config_reloads_total{result="refused"} 1`) {
		t.Error("refusal not counted in /metrics")
	}
}

// Replacing the watched file reloads it, without any signal.
func TestReloadWatchedFile(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	ok, refused := len(g.logs.lines(t, "config reloaded")), len(g.logs.lines(t, "config reload refused"))
	g.writeConfig(t, "127.0.0.1:0", "", dropTenant("northwind"))
	if !g.waitReload(t, ok, refused) {
		t.Fatalf("watched change refused:\n%s", g.logs)
	}
	if resp, _ := g.do(t, "GET", "/api/alerts", "northwind", nil); resp.StatusCode != 404 {
		t.Errorf("northwind after the watched reload: %d, want 404", resp.StatusCode)
	}
	// Rewriting identical content (touch, or a ConfigMap sync) is not a reload.
	g.writeConfig(t, "127.0.0.1:0", "", dropTenant("northwind"))
	time.Sleep(3 * watchDebounce)
	if n := len(g.logs.lines(t, "config reloaded")); n != ok+1 {
		t.Errorf("%d reloads after rewriting the same content, want %d", n, ok+1)
	}
}

// A real SIGHUP reloads (the test process has the gateway's handler installed, so the signal
// does not kill it).
func TestReloadSIGHUP(t *testing.T) {
	g := startGateway(t, "watch_config: false\n")
	ok, refused := len(g.logs.lines(t, "config reloaded")), len(g.logs.lines(t, "config reload refused"))
	g.writeConfig(t, "127.0.0.1:0", "watch_config: false\n", dropTenant("northwind"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !g.waitReload(t, ok, refused) {
		t.Fatalf("SIGHUP reload refused:\n%s", g.logs)
	}
}

// load sends requests from n clients until stop is closed and counts the outcomes. Each
// client keeps its connection alive, as a SIEM connector does.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, url func() string, n int, stop <-chan struct{}) *load {
	t.Helper()
	l := &load{}
	for i := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			tenants := []string{"contoso", "fabrikam"}
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				status, err := getAll(client, url()+"/api/alerts?$top=1", tenants[(i+j)%2])
				if err == nil && status != 200 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.failures = append(l.failures, err.Error())
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

// Under load, reloads that change tenants' regions, the log level and the app credentials
// (a new token source) fail no request.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	const secret2 = "second-app-secret~" + "s4s4s4s4s4s4"
	const client2 = "7b2d4f1e-3c5e-4f9a-8b6c-1d2e3f4a5b6c"
	// Quota shaping off: the loop sends far more than MDE's 100 per minute, so with shaping
	// on most answers were the gateway's honest 429s, and the test passed only when -race
	// slowed it below the limit (issue 17). What survives a reload with shaping on is
	// proxy's TestQuotaCarry.
	const extra = "watch_config: false\nlimits: {shape: false}\n"
	g := startGateway(t, extra, func(o *emulator.Options) {
		o.Apps = append(o.Apps, emulator.App{ClientID: client2, Secret: secret2})
	})
	g.secrets = []string{secret2}
	g.emu.SetRegionLatency("eu", 20*time.Millisecond)
	stop := make(chan struct{})
	l := startLoad(t, func() string { return g.URL }, 8, stop)
	edits := [][]func(string) string{
		{func(y string) string { return strings.Replace(y, "region: eu}", "region: us}", 1) }},
		{func(y string) string { return strings.Replace(y, "level: info", "level: debug", 1) }},
		{func(y string) string {
			y = strings.Replace(y, demoClientID, client2, 1)
			return strings.Replace(y, g.secret, secret2, 1)
		}},
		{},
	}
	for i := range 8 {
		time.Sleep(100 * time.Millisecond)
		g.writeConfig(t, "127.0.0.1:0", extra, edits[i%len(edits)]...)
		if !g.reload(t) {
			t.Fatalf("reload %d refused:\n%s", i, g.logs)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	l.wg.Wait()
	if l.failed.Load() > 0 {
		t.Errorf("%d of %d requests failed across reloads: %v", l.failed.Load(), l.failed.Load()+l.ok.Load(), l.failures[:min(5, len(l.failures))])
	}
	kept := 0
	for _, line := range g.logs.lines(t, "config reloaded") {
		if line["tokens_kept"] == true {
			kept++
		}
	}
	if kept == 8 {
		t.Error("no reload built a new token source, though the app credentials changed")
	}
	t.Logf("%d requests, %d reloads, %d kept the token source", l.ok.Load(), 8, kept)
}

// A new listen address is opened before the old one stops accepting; a call running on the
// old listener finishes.
func TestReloadListenAddress(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "watch_config: false\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	newAddr := ln.Addr().String()
	ln.Close()
	g.emu.SetRegionLatency("eu", 400*time.Millisecond)
	slow := make(chan int, 1)
	go func() {
		status, _ := getAll(nil, g.URL+"/api/alerts", "contoso")
		slow <- status
	}()
	waitFor(t, "the slow call to reach MDE", func() bool { return reached(g.emu, "/api/alerts") > 0 })
	g.writeConfig(t, newAddr, "watch_config: false\n")
	if !g.reload(t) {
		t.Fatalf("reload refused:\n%s", g.logs)
	}
	if s := <-slow; s != 200 {
		t.Errorf("call in flight on the old listener: status %d, want 200", s)
	}
	old := g.URL
	g.URL = "http://" + newAddr
	if resp, _ := g.do(t, "GET", "/api/alerts", "fabrikam", nil); resp.StatusCode != 200 {
		t.Errorf("new listener: %d", resp.StatusCode)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(old + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the old listener still accepts connections")
	}
}
