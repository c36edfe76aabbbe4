package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/routing"
)

// newProber builds the round-trip prober of the configured region table.
func newProber(cfg *config.Config, routes *routing.Table, roots *x509.CertPool, onRound func([]routing.Probe)) *routing.Prober {
	return routing.NewProber(routes, routing.ProbeOptions{
		TLS:      &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		Interval: cfg.Routing.ProbeInterval,
		OnRound:  onRound,
	})
}

// startProber measures every endpoint once (bounded: start-up waits a few seconds at most),
// then keeps measuring every routing.probe_interval until stop is called, which waits for it.
func startProber(ctx context.Context, cfg *config.Config, routes *routing.Table, roots *x509.CertPool, log zerolog.Logger) (stop func()) {
	p := newProber(cfg, routes, roots, func(probes []routing.Probe) {
		ev := log.Info().Str("nearest", routes.Nearest().Region)
		d := zerolog.Dict()
		for _, pr := range probes {
			if pr.Reachable {
				d.Float64(pr.Endpoint.Region, routing.Millis(pr.RTT))
			} else {
				d.Str(pr.Endpoint.Region, "unreachable")
			}
		}
		ev.Dict("rtt_ms", d).Msg("region probe")
	})
	p.Round(ctx)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.Run(ctx)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// regions prints the region table with each endpoint's measured round trip, whether it
// answered, and which one "auto" picks.
func regions(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	routes, err := routing.New(cfg.RoutingOptions())
	if err != nil {
		return err
	}
	roots, err := cfg.Roots()
	if err != nil {
		return err
	}
	probes := newProber(cfg, routes, roots, nil).Round(ctx)
	nearest := routes.Nearest()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tURL\tRTT\tREACHABLE\tAUTO")
	for _, p := range probes {
		rtt, mark := "-", ""
		if p.Reachable {
			rtt = fmt.Sprintf("%.1fms", routing.Millis(p.RTT))
		}
		if p.Endpoint == nearest {
			mark = "<- auto"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", p.Endpoint.Region, p.Endpoint.URL, rtt, yesNo(p.Reachable), mark)
	}
	return w.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func tenantIDs(t *routing.Table) []string {
	ids := make([]string, 0, len(t.Tenants()))
	for _, tn := range t.Tenants() {
		ids = append(ids, tn.ID)
	}
	return ids
}

// usesAuto reports whether any tenant's region is "auto", so endpoints must be probed.
func usesAuto(t *routing.Table) bool {
	for _, tn := range t.Tenants() {
		if tn.Auto {
			return true
		}
	}
	return false
}
