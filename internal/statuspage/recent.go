package statuspage

import (
	"sync"
	"time"
)

// Counts are a tenant's calls over a span of time.
type Counts struct {
	// Calls counts every finished call.
	Calls uint64
	// Errors counts the calls that failed: the gateway's choice (answered 5xx, or MDE not
	// reached).
	Errors uint64
	// Throttled counts the calls MDE answered 429.
	Throttled uint64
}

// recentMinutes is how many one-minute buckets Recent keeps: the current minute and the four
// before it.
const recentMinutes = 5

// Recent counts one tenant's calls per wall-clock minute and sums the last five minutes: the
// current minute and the four before it, so a sum covers between four and five minutes of
// traffic. The zero value is ready to use. Add allocates nothing and holds a mutex for a few
// additions (uncontended cost about that of two atomic adds); a bucket is reset when its
// minute comes round again, so a quiet tenant costs nothing over time.
type Recent struct {
	mu      sync.Mutex // guards minutes
	minutes [recentMinutes]bucket
}

type bucket struct {
	minute int64 // unix minute the counts belong to
	counts Counts
}

func unixMinute(t time.Time) int64 { return t.Unix() / 60 }

// Add counts one finished call at now.
func (r *Recent) Add(now time.Time, failed, throttled bool) {
	m := unixMinute(now)
	r.mu.Lock()
	b := &r.minutes[m%recentMinutes]
	if b.minute != m {
		*b = bucket{minute: m}
	}
	b.counts.Calls++
	if failed {
		b.counts.Errors++
	}
	if throttled {
		b.counts.Throttled++
	}
	r.mu.Unlock()
}

// Last5 sums the current minute (of now) and the four before it.
func (r *Recent) Last5(now time.Time) Counts {
	m := unixMinute(now)
	var c Counts
	r.mu.Lock()
	for _, b := range r.minutes {
		if b.minute > m-recentMinutes && b.minute <= m {
			c.Calls += b.counts.Calls
			c.Errors += b.counts.Errors
			c.Throttled += b.counts.Throttled
		}
	}
	r.mu.Unlock()
	return c
}
