package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/rs/zerolog"
)

// listen opens a listen address: host:port, or unix:/path for a Unix socket (a stale socket
// file left by a previous run is replaced; the socket is made accessible to its owner and
// group only).
func listen(addr string) (net.Listener, error) {
	p, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		return ln, nil
	}
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(p)
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if err := os.Chmod(p, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

// serveBoth runs the plain listener ln and the HTTPS listener until ctx is done or either
// fails; it stops both and waits for both. listening is called once both are open.
func serveBoth(ctx context.Context, cfg *Config, ln net.Listener, h http.Handler, log zerolog.Logger, stdout io.Writer, listening func(tlsAddr string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tln, err := listen(cfg.TLS.Listen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("tls.%w", err)
	}
	https, err := newHTTPS(ctx, cfg, log, stdout)
	if err != nil {
		ln.Close()
		tln.Close()
		return err
	}
	defer https.stop()
	listening(tln.Addr().String())
	errc := make(chan error, 2)
	go func() { errc <- runServer(ctx, ln, h, log, nil) }()
	go func() { errc <- runServer(ctx, tln, h, log, https.config) }()
	err = <-errc
	cancel() // the other one stops too
	if err2 := <-errc; err == nil {
		err = err2
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
