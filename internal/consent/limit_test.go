package consent

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := newLimiter(Rate{Every: 6 * time.Second, Burst: 2}, Rate{Every: time.Second, Burst: 3}, 2)
	now := t0
	take := func(addr string) bool { ok, _ := l.allow(addr, now); return ok }
	if !take("192.0.2.1:1000") || !take("192.0.2.1:1001") {
		t.Fatal("burst refused")
	}
	if ok, retry := l.allow("192.0.2.1:1002", now); ok || retry != 6*time.Second {
		t.Fatalf("third call: ok %v, retry %v; want refused for 6s", ok, retry)
	}
	// Another client has its own bucket; the global burst (3) runs out on its second call,
	// and that refusal does not cost it its own token.
	if !take("192.0.2.2:1") {
		t.Fatal("second client refused")
	}
	if take("192.0.2.2:1") {
		t.Fatal("global burst not enforced")
	}
	now = now.Add(time.Second)
	if !take("192.0.2.2:1") {
		t.Fatal("second client lost its token to the global refusal")
	}
	// A third client while two are remembered and neither is calm: refused.
	now = now.Add(time.Second)
	if take("198.51.100.7:1") {
		t.Fatal("client table over its bound")
	}
	// Once the first two have refilled they are forgotten and the newcomer is served.
	now = now.Add(time.Minute)
	if !take("198.51.100.7:1") {
		t.Fatal("calm clients not forgotten")
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1:443":                 "192.0.2.1",
		"[::ffff:192.0.2.1]:443":        "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":    "2001:db8:1:2::",
		"[2001:db8:1:2:ffff::1%eth0]:1": "2001:db8:1:2::",
		"garbage":                       "invalid IP",
	} {
		if got := clientKey(in); got.String() != want {
			t.Errorf("clientKey(%q): got %v, want %v", in, got, want)
		}
	}
}
