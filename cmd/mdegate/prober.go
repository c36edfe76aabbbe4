package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/routing"
)

// The region prober: the round trips that region "auto" picks by, measured the same way for
// the gateway, `mdegate regions` and `mdegate check`.

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

// usesAuto reports whether any tenant's region is "auto", so endpoints must be probed.
func usesAuto(t *routing.Table) bool {
	for _, tn := range t.Tenants() {
		if tn.Auto {
			return true
		}
	}
	return false
}

// regionNames lists the region table's regions, sorted.
func regionNames(t *routing.Table) []string {
	var names []string
	for _, ep := range t.Endpoints() {
		names = append(names, ep.Region)
	}
	return names
}
