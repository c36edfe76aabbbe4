package main

import (
	"context"
	"io"

	"github.com/mdegate/mdegate/internal/config"
)

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
