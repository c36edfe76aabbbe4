package main

import (
	"context"
	"flag"
	"io"

	"github.com/mdegate/mdegate/internal/config"
)

// serveCommand is `mdegate serve`: load the configuration and run the gateway until a signal.
func serveCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	return func(ctx context.Context) error {
		cfg, _, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, c.stdout, gatewayOptions{})
	}
}

// serve wires config → routing → tokens → proxy → server and runs until ctx is done,
// reloading on SIGHUP or a change of the config file (gateway.go, reload.go). Only tests set
// opts.
func serve(ctx context.Context, cfg *config.Config, stdout io.Writer, opts gatewayOptions) error {
	gw, err := newGateway(cfg, stdout, opts)
	if err != nil {
		return err
	}
	return gw.run(ctx)
}
