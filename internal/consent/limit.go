package consent

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Rate is a token bucket: Burst requests at once, then one every Every.
type Rate struct {
	// Every is the time one request's allowance takes to come back.
	Every time.Duration
	// Burst is how many requests may come at once.
	Burst int
}

// bucket is one token bucket; its owner's lock guards it.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills b for the time since its last use and takes one token, or says how long until
// one is there.
func (b *bucket) take(r Rate, now time.Time) (ok bool, retry time.Duration) {
	if b.last.IsZero() {
		b.tokens = float64(r.Burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(r.Burst), b.tokens+float64(d)/float64(r.Every))
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(r.Every))
}

// full reports whether b has refilled completely by now, so forgetting it changes nothing.
func (b *bucket) full(r Rate, now time.Time) bool {
	return b.tokens+float64(now.Sub(b.last))/float64(r.Every) >= float64(r.Burst)
}

// limiter admits requests under a bucket per client address and a global one. It is a few
// lines rather than golang.org/x/time/rate, which the module does not otherwise need.
type limiter struct {
	perIP, global Rate
	maxClients    int

	mu      sync.Mutex // guards all below
	all     bucket
	clients map[netip.Addr]*bucket
}

func newLimiter(perIP, global Rate, maxClients int) *limiter {
	return &limiter{perIP: perIP, global: global, maxClients: maxClients,
		clients: make(map[netip.Addr]*bucket)}
}

// clientKey is the address a remote is limited by: the IPv4 address, or the IPv6 /64 (one
// subscriber's network), so a host cannot dodge its limit by rotating addresses.
func clientKey(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{} // every unparsable remote shares one bucket
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a
}

// allow takes a token from the client's bucket and from the global one. A client is refused
// by its own bucket before it can drain the global one.
func (l *limiter) allow(remoteAddr string, now time.Time) (ok bool, retry time.Duration) {
	key := clientKey(remoteAddr)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= l.maxClients {
			for k, c := range l.clients {
				if c.full(l.perIP, now) {
					delete(l.clients, k)
				}
			}
			if len(l.clients) >= l.maxClients {
				// Too many clients at once: all are refused until some calm down.
				return false, l.perIP.Every
			}
		}
		b = &bucket{}
		l.clients[key] = b
	}
	if ok, retry := b.take(l.perIP, now); !ok {
		return false, retry
	}
	if ok, retry := l.all.take(l.global, now); !ok {
		b.tokens++ // not served: give the client its token back
		return false, retry
	}
	return true, 0
}
