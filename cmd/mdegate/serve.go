package main

import (
	"context"
	"io"
	stdlog "log"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/routing"
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

func regionNames(t *routing.Table) []string {
	var names []string
	for _, ep := range t.Endpoints() {
		names = append(names, ep.Region)
	}
	return names
}

// newStdLogger routes net/http's own complaints (TLS handshake errors, panics) to zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("component", "http").Logger(), "", 0)
}
