package proxy

import (
	"sort"
	"time"
)

// slidingLog admits at most limit requests in any span of time: it keeps the admission time
// of each request still inside the span (oldest first) and admits a new one no earlier than
// the limit-th most recent admission plus the span. Admission times never decrease, so the
// log stays sorted and both the check and the expiry are O(1) amortized. Memory follows use:
// a quiet tenant's log is empty, a busy one holds at most limit times.
//
// A token bucket that guarantees the same bound must trade burst for rate (burst b and rate
// r admit b + r·span in a span, so b + r·span ≤ limit): with the burst of a tenth it used
// before, it reached 0.9·W/span of the allowance. The log reaches W/span and still lets a
// whole limit through at once.
//
// The zero value is not usable; the caller's lock guards it.
type slidingLog struct {
	limit int
	span  int64   // nanoseconds
	times []int64 // unix nanoseconds; times[head:] are live, sorted
	head  int
}

func newSlidingLog(limit int, span time.Duration) *slidingLog {
	return &slidingLog{limit: max(limit, 1), span: int64(span)}
}

// next returns the earliest admission time, at or after now, that keeps every span within
// the limit (and the log sorted).
func (s *slidingLog) next(now int64) int64 {
	s.expire(now)
	live := s.times[s.head:]
	if len(live) == 0 {
		return now
	}
	t := max(now, live[len(live)-1])
	if len(live) >= s.limit {
		t = max(t, live[len(live)-s.limit]+s.span)
	}
	return t
}

// add records an admission at t, which must be at or after every earlier one (from next).
func (s *slidingLog) add(t int64) {
	if s.head > 0 && s.head >= len(s.times)/2 { // reuse the expired half
		n := copy(s.times, s.times[s.head:])
		s.times, s.head = s.times[:n], 0
	}
	s.times = append(s.times, t)
}

// cancel withdraws an admission at t that was not used (its caller left while waiting for
// it). Only the latest admission can be withdrawn without reordering; an earlier one stays,
// which only errs on the safe side.
func (s *slidingLog) cancel(t int64) {
	if n := len(s.times); n > s.head && s.times[n-1] == t {
		s.times = s.times[:n-1]
	}
}

// expire drops admissions that left the span.
func (s *slidingLog) expire(now int64) {
	for s.head < len(s.times) && s.times[s.head]+s.span <= now {
		s.head++
	}
	if s.head == len(s.times) {
		s.times, s.head = s.times[:0], 0
	}
}

// live counts the admissions still inside the span at now, including those admitted for a
// later time (callers waiting for their slot): the count next weighs against the limit. It
// changes nothing, so a reader (the status page) never moves the log.
func (s *slidingLog) live(now int64) int {
	live := s.times[s.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i]+s.span > now })
	return len(live) - i
}
