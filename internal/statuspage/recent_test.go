package statuspage

import (
	"sync"
	"testing"
	"time"
)

func TestRecent(t *testing.T) {
	t.Parallel()
	var r Recent
	at := func(min, sec int) time.Time {
		return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	r.Add(at(0, 5), false, false)
	r.Add(at(0, 59), true, false)
	r.Add(at(2, 0), false, true)
	r.Add(at(4, 30), true, true)
	if got, want := r.Last5(at(4, 59)), (Counts{Calls: 4, Errors: 2, Throttled: 2}); got != want {
		t.Errorf("minute 4: got %+v, want %+v", got, want)
	}
	// Minute 0 leaves the window at minute 5.
	if got, want := r.Last5(at(5, 0)), (Counts{Calls: 2, Errors: 1, Throttled: 2}); got != want {
		t.Errorf("minute 5: got %+v, want %+v", got, want)
	}
	// Minute 5 reuses minute 0's bucket: it starts from zero.
	r.Add(at(5, 1), false, false)
	if got, want := r.Last5(at(5, 2)), (Counts{Calls: 3, Errors: 1, Throttled: 2}); got != want {
		t.Errorf("after reuse: got %+v, want %+v", got, want)
	}
	if got := r.Last5(at(30, 0)); got != (Counts{}) {
		t.Errorf("long after: got %+v, want zero", got)
	}
	var zero Recent
	if got := zero.Last5(t0); got != (Counts{}) {
		t.Errorf("zero value: got %+v", got)
	}
}

func TestRecentAddAllocatesNothing(t *testing.T) {
	var r Recent
	now := t0
	if n := testing.AllocsPerRun(100, func() { r.Add(now, true, false); _ = r.Last5(now) }); n != 0 {
		t.Errorf("allocs: got %v, want 0", n)
	}
}

func BenchmarkRecentAdd(b *testing.B) {
	var r Recent
	now := t0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Add(now, false, false)
		}
	})
}

func TestRecentConcurrent(t *testing.T) {
	t.Parallel()
	var r Recent
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				r.Add(t0, i%2 == 0, false)
			}
		}()
	}
	wg.Wait()
	if got, want := r.Last5(t0), (Counts{Calls: 4000, Errors: 2000}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
