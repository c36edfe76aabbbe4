package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/routing"
)

// regionsCommand is `mdegate regions`.
func regionsCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	return func(ctx context.Context) error {
		cfg, _, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return regions(ctx, cfg, c.stdout)
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
