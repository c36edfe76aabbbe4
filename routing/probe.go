package routing

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ProbeOptions configure a Prober.
type ProbeOptions struct {
	// TLS is the client TLS configuration of the probes (roots, minimum version). Nil means
	// the system roots.
	TLS *tls.Config
	// Interval is the time between rounds of Run. Zero means 1 minute.
	Interval time.Duration
	// Samples is how many round trips are measured per endpoint; the median counts. Zero
	// means 3.
	Samples int
	// Timeout bounds one sample (connect, TLS handshake, GET /api/ and its headers). Zero
	// means 2 s.
	Timeout time.Duration
	// RoundDeadline bounds a whole round, so that hanging endpoints cannot delay start-up.
	// Zero means 3 s.
	RoundDeadline time.Duration
	// Parallel bounds how many endpoints are probed at once. Zero means 8.
	Parallel int
	// OnRound, when set, is called after each round with its results (for logging).
	OnRound func([]Probe)
}

// Prober measures the round trip from this gateway to every endpoint of a Table and feeds the
// results to Table.SetProbes. A sample is a fresh connection: TCP connect, TLS handshake and an
// unauthenticated GET /api/; any HTTP answer (MDE says 401) means reachable.
type Prober struct {
	table  *Table
	client *http.Client
	opts   ProbeOptions
}

// NewProber builds a Prober for the table's endpoints. It does not probe until Round or Run.
func NewProber(t *Table, opts ProbeOptions) *Prober {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Samples <= 0 {
		opts.Samples = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.RoundDeadline <= 0 {
		opts.RoundDeadline = 3 * time.Second
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	tr := &http.Transport{
		Proxy:               nil, // never HTTPS_PROXY from the environment: measure the path the calls take (issue 16)
		DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		TLSClientConfig:     opts.TLS,
		TLSHandshakeTimeout: opts.Timeout,
		DisableKeepAlives:   true, // every sample pays the connect and handshake, as a failover would
		ForceAttemptHTTP2:   true,
	}
	return &Prober{table: t, client: &http.Client{Transport: tr, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, opts: opts}
}

// Round probes every endpoint once (in parallel, bounded by Parallel and RoundDeadline),
// records the results in the table and returns them sorted by region.
func (p *Prober) Round(ctx context.Context) []Probe {
	ctx, cancel := context.WithTimeout(ctx, p.opts.RoundDeadline)
	defer cancel()
	eps := p.table.Endpoints()
	out := make([]Probe, len(eps))
	sem := make(chan struct{}, p.opts.Parallel)
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				out[i] = p.probe(ctx, ep)
			case <-ctx.Done():
				out[i] = Probe{Endpoint: ep}
			}
		}()
	}
	wg.Wait()
	p.table.SetProbes(out)
	if p.opts.OnRound != nil {
		p.opts.OnRound(out)
	}
	return out
}

// Run probes every Interval until ctx is done. It does not probe at once: serve calls Round
// before it listens. It returns when ctx is done and its last round has ended.
func (p *Prober) Run(ctx context.Context) {
	tick := time.NewTicker(p.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.Round(ctx)
		}
	}
}

func (p *Prober) probe(ctx context.Context, ep *Endpoint) Probe {
	u := ep.URL.JoinPath("/api/").String()
	var rtts []time.Duration
	for range p.opts.Samples {
		if ctx.Err() != nil {
			break
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			break
		}
		start := time.Now()
		resp, err := p.client.Do(req)
		if err != nil {
			continue
		}
		rtt := time.Since(start)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		rtts = append(rtts, rtt)
	}
	if len(rtts) == 0 {
		return Probe{Endpoint: ep}
	}
	slices.Sort(rtts)
	return Probe{Endpoint: ep, RTT: rtts[len(rtts)/2], Reachable: true}
}

// Millis is d in milliseconds, to the microsecond: how logs and tables show round trips and
// durations.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
