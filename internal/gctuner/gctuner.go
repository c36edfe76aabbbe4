// Package gctuner lets the Go heap grow while the gateway is busy, trading memory for CPU.
//
// Go collects garbage when the heap has grown by GOGC per cent (100) over what survived the
// last collection, and not below 4 MB. The gateway keeps little (tokens, routes, pools: a few
// MB) and allocates about 10 KB per forwarded call, so under load it collects dozens of times
// a second, each time marking the same live data: 8-10 % of its CPU. While the allocation
// rate is high, the tuner raises GOGC so that a collection waits until the heap reaches
// 16 MiB; once the rate has stayed low for a while, it puts GOGC back. Idle,
// starting up or copying a single stream, nothing changes, so memory stays what Go's default
// gives. GOMEMLIMIT, when set, still bounds the heap: the runtime takes the lower goal.
package gctuner

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

const (
	// busyHeap is the heap goal while busy: 12 MiB more than Go's floor, for about 8 % of the
	// CPU per call at ten thousand calls a second. 32 MiB did worse in an alternated run (1.02
	// against 1.07 of a bare proxy's req/s), probably because the allocations then walk
	// through more memory than the CPU caches hold.
	busyHeap = 16 << 20
	// busyRate is the allocation rate, in bytes per second, from which the gateway counts as
	// busy: at Go's default, at least eight collections a second. A few hundred calls a
	// second, or one stream copied at full speed, stay below it.
	busyRate = 16 << 20
	// quietSamples is how many samples in a row below a quarter of busyRate end a busy spell,
	// so a lull between bursts does not flip GOGC back and forth.
	quietSamples = 10
	// heapFloor is the runtime's smallest heap goal at GOGC=100; it scales with GOGC.
	heapFloor = 4 << 20
)

// GOGC is the process's, so one tuner runs at a time: running guards it.
var (
	mu      sync.Mutex
	running bool
)

// Start runs a tuner, sampling the allocation rate every interval (zero means every second),
// until the returned stop is called; stop waits for it and puts GOGC back. When GOGC is set in
// the environment the operator has chosen, and when a tuner already runs (tests run many
// gateways in one process), Start does nothing.
func Start(log zerolog.Logger, interval time.Duration) (stop func()) {
	mu.Lock()
	defer mu.Unlock()
	if running || os.Getenv("GOGC") != "" {
		return func() {}
	}
	running = true
	if interval <= 0 {
		interval = time.Second
	}
	t := &tuner{}
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t.run(log, interval, quit)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
			mu.Lock()
			running = false
			mu.Unlock()
		})
	}
}

// tuner is the state carried from one sample to the next.
type tuner struct {
	base  int // GOGC as the tuner found it
	busy  bool
	quiet int // samples in a row below a quarter of busyRate
}

// Names of the runtime metrics read.
const (
	allocsMetric = "/gc/heap/allocs:bytes" // cumulative
	liveMetric   = "/gc/heap/live:bytes"   // marked live by the last collection
	gogcMetric   = "/gc/gogc:percent"
)

func (t *tuner) run(log zerolog.Logger, interval time.Duration, quit <-chan struct{}) {
	samples := []metrics.Sample{{Name: allocsMetric}, {Name: liveMetric}, {Name: gogcMetric}}
	metrics.Read(samples)
	t.base = int(samples[2].Value.Uint64())
	cur := t.base
	last, lastAt := samples[0].Value.Uint64(), time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	defer func() { debug.SetGCPercent(t.base) }()
	for {
		select {
		case <-quit:
			return
		case now := <-tick.C:
			metrics.Read(samples)
			allocs := samples[0].Value.Uint64()
			rate := float64(allocs-last) / now.Sub(lastAt).Seconds()
			last, lastAt = allocs, now
			wasBusy := t.busy
			percent := t.step(rate, samples[1].Value.Uint64())
			if percent != cur {
				debug.SetGCPercent(percent)
				cur = percent
			}
			if t.busy != wasBusy {
				log.Info().Bool("busy", t.busy).Int("gogc", percent).Float64("alloc_mb_s", rate/(1<<20)).
					Msg("garbage collection pacing changed")
			}
		}
	}
}

// step takes one sample, the allocation rate in bytes per second and the live heap, and
// returns the GOGC to run with until the next.
func (t *tuner) step(rate float64, live uint64) (percent int) {
	switch {
	case rate >= busyRate:
		t.busy, t.quiet = true, 0
	case !t.busy: // and not busy now: nothing changes
	case rate < busyRate/4:
		t.quiet++
		if t.quiet >= quietSamples {
			t.busy, t.quiet = false, 0
		}
	default:
		t.quiet = 0
	}
	if !t.busy {
		return t.base
	}
	return t.busyPercent(live)
}

// busyPercent is the GOGC that puts the next collection's goal at busyHeap, given the live
// heap, and never lowers the base setting. The runtime's goal is the larger of live*(1+p/100)
// and heapFloor*p/100, so p is bounded by both.
func (t *tuner) busyPercent(live uint64) int {
	p := uint64(busyHeap * 100 / heapFloor)
	if live > 0 && live < busyHeap {
		p = min(p, (busyHeap-live)*100/live)
	} else if live >= busyHeap {
		p = 0
	}
	return max(t.base, int(p))
}
