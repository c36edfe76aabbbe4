package routing

import (
	"testing"
	"time"
)

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *fakeClock                   { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func regionsOf(eps []*Endpoint) (s []string) { return appendRegions(s, eps) }

func appendRegions(s []string, eps []*Endpoint) []string {
	for _, ep := range eps {
		s = append(s, ep.Region)
	}
	return s
}

func healthTable(t *testing.T, clock *fakeClock) *Table {
	t.Helper()
	tb, err := New(Options{
		Regions: map[string]string{Global: "https://g.example", "eu": "https://eu.example", "us": "https://us.example"},
		Tenants: []TenantOptions{
			{Name: "pinned", ID: "a", Region: "eu"},
			{Name: "auto", ID: "b", Region: Auto},
			{Name: "global", ID: "c"},
		},
		Now: clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestCandidates(t *testing.T) {
	tb := healthTable(t, newClock())
	tests := []struct {
		tenant string
		want   string
	}{
		{"pinned", "[eu global]"},
		{"global", "[global]"},
		{"auto", "[global eu us]"}, // before any probe: global first
	}
	for _, tt := range tests {
		tn, _ := tb.Resolve(tt.tenant)
		if got := fmtList(regionsOf(tb.Candidates(tn))); got != tt.want {
			t.Errorf("%s: candidates %s, want %s", tt.tenant, got, tt.want)
		}
	}
}

func fmtList(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

// A failed endpoint is skipped for an exponential, capped cool-down, then tried again; a
// success clears it.
func TestHealthCoolDown(t *testing.T) {
	clock := newClock()
	tb := healthTable(t, clock)
	tn, _ := tb.Resolve("pinned")
	cands := tb.Candidates(tn)
	eu := cands[0]

	var got []time.Duration
	for range 9 {
		got = append(got, tb.ReportFailure(eu))
	}
	want := []time.Duration{2, 4, 8, 16, 32, 64, 120, 120, 120}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("cool-downs %v, want %v seconds", got, want)
		}
	}
	if ep, _ := tb.Pick(cands, -1); ep.Region != Global {
		t.Errorf("picked %s while eu is down, want global", ep.Region)
	}
	clock.add(119 * time.Second)
	if tb.Healthy(eu) {
		t.Error("eu healthy before its cool-down ended")
	}
	clock.add(time.Second)
	if ep, _ := tb.Pick(cands, -1); ep != eu {
		t.Errorf("picked %s after the cool-down, want eu again", ep.Region)
	}
	tb.ReportSuccess(eu)
	if d := tb.ReportFailure(eu); d != 2*time.Second {
		t.Errorf("first failure after a success cools down %v, want 2s", d)
	}
}

func TestPickFallsThrough(t *testing.T) {
	tb := healthTable(t, newClock())
	tn, _ := tb.Resolve("pinned")
	cands := tb.Candidates(tn)
	ep, i := tb.Pick(cands, -1)
	if ep.Region != "eu" || i != 0 {
		t.Fatalf("first pick %s/%d, want eu/0", ep.Region, i)
	}
	if ep, i = tb.Pick(cands, i); ep.Region != Global || i != 1 {
		t.Fatalf("second pick %v/%d, want global/1", ep, i)
	}
	if ep, i = tb.Pick(cands, i); ep != nil || i != -1 {
		t.Fatalf("third pick %v/%d, want none", ep, i)
	}
	// Everything down: still try rather than fail.
	for _, ep := range cands {
		tb.ReportFailure(ep)
	}
	if ep, _ := tb.Pick(cands, -1); ep.Region != "eu" {
		t.Errorf("all down: picked %v, want the first candidate", ep)
	}
	if n := testing.AllocsPerRun(100, func() { tb.Pick(tb.Candidates(tn), -1) }); n != 0 {
		t.Errorf("Pick allocates %v times, want 0", n)
	}
}

// Equal regions do not flap: the nearest changes only for a clearly faster one.
func TestAutoHysteresis(t *testing.T) {
	tb := healthTable(t, newClock())
	ep := map[string]*Endpoint{}
	for _, e := range tb.Endpoints() {
		ep[e.Region] = e
	}
	round := func(g, eu, us time.Duration, usUp bool) string {
		tb.SetProbes([]Probe{
			{Endpoint: ep[Global], RTT: g, Reachable: true},
			{Endpoint: ep["eu"], RTT: eu, Reachable: true},
			{Endpoint: ep["us"], RTT: us, Reachable: usUp},
		})
		return fmtList(regionsOf(*tb.auto.Load()))
	}
	ms := time.Millisecond
	steps := []struct {
		name      string
		g, eu, us time.Duration
		usUp      bool
		wantOrder string
	}{
		{"first round: fastest", 50 * ms, 20 * ms, 30 * ms, true, "[eu us global]"},
		{"us a bit faster: stay", 50 * ms, 20 * ms, 18 * ms, true, "[eu us global]"},
		{"us 20% but under 5 ms faster: stay", 50 * ms, 20 * ms, 15500 * time.Microsecond, true, "[eu us global]"},
		{"us clearly faster: switch", 50 * ms, 20 * ms, 10 * ms, true, "[us eu global]"},
		{"us unreachable: next nearest", 50 * ms, 20 * ms, 0, false, "[eu global us]"},
	}
	for _, s := range steps {
		if got := round(s.g, s.eu, s.us, s.usUp); got != s.wantOrder {
			t.Errorf("%s: order %s, want %s", s.name, got, s.wantOrder)
		}
	}
	if tb.Nearest().Region != "eu" {
		t.Errorf("Nearest %s, want eu", tb.Nearest().Region)
	}
}

func TestAutoIsReserved(t *testing.T) {
	_, err := New(Options{Regions: map[string]string{Global: "https://g.example", Auto: "https://a.example"}})
	if err == nil {
		t.Error("a region named auto was accepted")
	}
	if _, err := New(Options{Regions: map[string]string{Global: "https://g.example"}, DefaultRegion: Auto,
		Tenants: []TenantOptions{{Name: "x", ID: "y"}}}); err != nil {
		t.Errorf("default region auto: %v", err)
	}
}
