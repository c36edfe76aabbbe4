// Package gctuner lets the Go heap grow while the gateway is busy, trading memory for CPU.
//
// Go collects garbage when the heap has grown by GOGC per cent (100) over what survived the
// last collection, and not below 4 MB. The gateway keeps little (tokens, routes, pools: a few
// MB) and allocates about 10 KB per forwarded call, so under load it collects dozens of times
// a second, each time marking the same live data: 8-10 % of its CPU. While the allocation
// rate is high, the tuner raises GOGC so that a collection waits until the heap reaches
// Options.BusyHeap; once the rate has stayed low for a while, it puts GOGC back. Idle,
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

// Defaults of Options.
const (
	// DefaultBusyHeap is the heap goal while busy: 12 MiB more than Go's floor, for about 8 %
	// of the CPU per call at ten thousand calls a second. 32 MiB did worse in an alternated
	// run (1.02 against 1.07 of a bare proxy's req/s), probably because the allocations then
	// walk through more memory than the CPU caches hold.
	DefaultBusyHeap = 16 << 20
	// DefaultBusyRate is the allocation rate above which the gateway counts as busy: at Go's
	// default, that is at least eight collections a second. A few hundred calls a second, or
	// one stream copied at full speed, stay below it.
	DefaultBusyRate = 16 << 20
	// DefaultInterval is how often the rate is sampled.
	DefaultInterval = time.Second
	// quietSamples is how many samples in a row below a quarter of the busy rate end a busy
	// spell, so a lull between bursts does not flip GOGC back and forth.
	quietSamples = 10
	// heapFloor is the runtime's smallest heap goal at GOGC=100; it scales with GOGC.
	heapFloor = 4 << 20
)

// Options configure the tuner Start runs.
type Options struct {
	// BusyHeap is the heap size a collection waits for while busy. Zero means DefaultBusyHeap.
	BusyHeap uint64
	// BusyRate is the allocation rate, in bytes per second, from which the gateway counts as
	// busy. Zero means DefaultBusyRate.
	BusyRate float64
	// Interval is how often the allocation rate is sampled. Zero means DefaultInterval.
	Interval time.Duration
}

// GOGC is the process's, so one tuner runs at a time: running guards it.
var (
	mu      sync.Mutex
	running bool
)

// Start runs a tuner until the returned stop is called; stop waits for it and puts GOGC back.
// When GOGC is set in the environment the operator has chosen, and when a tuner already runs
// (tests run many gateways in one process), Start does nothing.
func Start(log zerolog.Logger, opts Options) (stop func()) {
	mu.Lock()
	defer mu.Unlock()
	if running || os.Getenv("GOGC") != "" {
		return func() {}
	}
	running = true
	t := newTuner(opts)
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t.run(log, quit)
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

type tuner struct {
	busyHeap uint64
	busyRate float64
	interval time.Duration
	base     int // GOGC as the tuner found it

	busy  bool
	quiet int // samples in a row below a quarter of busyRate
}

func newTuner(opts Options) *tuner {
	t := &tuner{busyHeap: opts.BusyHeap, busyRate: opts.BusyRate, interval: opts.Interval}
	if t.busyHeap == 0 {
		t.busyHeap = DefaultBusyHeap
	}
	if t.busyRate == 0 {
		t.busyRate = DefaultBusyRate
	}
	if t.interval <= 0 {
		t.interval = DefaultInterval
	}
	return t
}

// Names of the runtime metrics read.
const (
	allocsMetric = "/gc/heap/allocs:bytes" // cumulative
	liveMetric   = "/gc/heap/live:bytes"   // marked live by the last collection
	gogcMetric   = "/gc/gogc:percent"
)

func (t *tuner) run(log zerolog.Logger, quit <-chan struct{}) {
	samples := []metrics.Sample{{Name: allocsMetric}, {Name: liveMetric}, {Name: gogcMetric}}
	metrics.Read(samples)
	t.base = int(samples[2].Value.Uint64())
	cur := t.base
	last, lastAt := samples[0].Value.Uint64(), time.Now()
	tick := time.NewTicker(t.interval)
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
	case rate >= t.busyRate:
		t.busy, t.quiet = true, 0
	case !t.busy: // and not busy now: nothing changes
	case rate < t.busyRate/4:
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
	p := t.busyHeap * 100 / heapFloor
	if live > 0 && live < t.busyHeap {
		p = min(p, (t.busyHeap-live)*100/live)
	} else if live >= t.busyHeap {
		p = 0
	}
	return max(t.base, int(p))
}
