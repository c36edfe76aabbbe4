package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mdegate/mdegate/internal/config"
)

// checkConfigCommand is `mdegate check-config`: every problem of the file with its key and
// line, or a one-line summary of a good one.
func checkConfigCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	return func(context.Context) error {
		cfg, _, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintln(c.stderr, err)
			return errReported
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(c.stderr, "warning:", w)
		}
		fmt.Fprintf(c.stdout, "%s: ok (%d tenants, cloud %s, %d regions)\n", *configPath, len(cfg.Tenants), cfg.Cloud.Name, len(cfg.Resolved.Cloud.Regions))
		return nil
	}
}
