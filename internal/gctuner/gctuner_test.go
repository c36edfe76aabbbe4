package gctuner

import (
	"runtime/metrics"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const mb = 1 << 20

func TestStep(t *testing.T) {
	tu := &tuner{base: 100}
	steps := []struct {
		name     string
		rate     float64
		live     uint64
		want     int
		wantBusy bool
	}{
		{"idle", 1 * mb, 2 * mb, 100, false},
		{"one stream", 8 * mb, 2 * mb, 100, false},
		{"busy, small live heap: capped by the runtime's floor", 20 * mb, 2 * mb, 400, true},
		{"busy, no collection yet", 20 * mb, 0, 400, true},
		{"busy, larger live heap", 20 * mb, 6 * mb, 166, true},
		{"busy, live heap near the goal: the base", 20 * mb, 10 * mb, 100, true},
		{"lull above a quarter of the rate keeps it", 5 * mb, 2 * mb, 400, true},
	}
	for _, s := range steps {
		if got := tu.step(s.rate, s.live); got != s.want || tu.busy != s.wantBusy {
			t.Fatalf("%s: GOGC %d busy %v, want %d busy %v", s.name, got, tu.busy, s.want, s.wantBusy)
		}
	}
	for i := 1; i < quietSamples; i++ {
		if got := tu.step(1*mb, 2*mb); got != 400 {
			t.Fatalf("quiet sample %d: GOGC %d, want 400 until %d quiet samples", i, got, quietSamples)
		}
	}
	if got := tu.step(1*mb, 2*mb); got != 100 || tu.busy {
		t.Fatalf("after %d quiet samples: GOGC %d busy %v, want 100, not busy", quietSamples, got, tu.busy)
	}
}

func TestBusyPercentNeverLowersBase(t *testing.T) {
	tu := &tuner{base: 300}
	if got := tu.busyPercent(12 * mb); got != 300 {
		t.Errorf("GOGC %d, want the base 300", got)
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: gogcMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// churn allocates garbage until stop is closed.
func churn(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
			sink = make([]byte, 256<<10)
		}
	}
}

// The tuner raises GOGC while the process allocates fast, puts it back once it has been
// quiet for quietSamples samples, and again when stopped.
func TestStartFollowsTheAllocationRate(t *testing.T) {
	t.Setenv("GOGC", "") // the tuner's own condition: nothing chosen by the operator
	base := gogc()
	stop := Start(zerolog.Nop(), 10*time.Millisecond)
	defer stop()

	quit := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); churn(quit) }()
	waitFor(t, "GOGC raised while allocating", func() bool { return gogc() > base })
	Start(zerolog.Nop(), 0)() // a second tuner is a no-op, and so is its stop
	close(quit)
	<-done
	waitFor(t, "GOGC back once quiet", func() bool { return gogc() == base })

	quit, done = make(chan struct{}), make(chan struct{})
	go func() { defer close(done); churn(quit) }()
	waitFor(t, "GOGC raised again", func() bool { return gogc() > base })
	stop()
	close(quit)
	<-done
	if got := gogc(); got != base {
		t.Errorf("after stop: GOGC %d, want %d", got, base)
	}
}

func TestGOGCInEnvironmentTurnsItOff(t *testing.T) {
	t.Setenv("GOGC", "100")
	base := gogc()
	stop := Start(zerolog.Nop(), time.Millisecond)
	defer stop()
	quit := make(chan struct{})
	time.AfterFunc(100*time.Millisecond, func() { close(quit) })
	churn(quit)
	if got := gogc(); got != base {
		t.Errorf("GOGC %d with GOGC set in the environment, want %d untouched", got, base)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
