package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthTimeout bounds the whole probe: a container runtime kills a slower check anyway.
const healthTimeout = 3 * time.Second

// healthcheck probes a running gateway's /healthz and succeeds on a 200. It needs no shell,
// so an image without one (distroless, scratch) can run it as its HEALTHCHECK. The address
// is rawURL, or the configuration's listener (an unspecified host such as 0.0.0.0 is probed
// on loopback).
func healthcheck(ctx context.Context, configPath, rawURL string, stdout, stderr io.Writer) error {
	client := &http.Client{Timeout: healthTimeout}
	if rawURL == "" {
		cfg, err := loadForCommand(configPath, stderr)
		if err != nil {
			return err
		}
		listen := cfg.Listen
		if cfg.AdminListen != "" { // /healthz is served there, and only there
			listen = cfg.AdminListen
		}
		var ok bool
		rawURL, client.Transport, ok = healthTarget(listen)
		if !ok {
			fmt.Fprintf(stderr, "mdegate healthcheck: cannot probe %q\n", listen)
			return errReported
		}
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "mdegate healthcheck: %s: %v\n", rawURL, err)
		return errReported
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "mdegate healthcheck: %s: %s\n", rawURL, resp.Status)
		return errReported
	}
	fmt.Fprintf(stdout, "%s: ok\n", rawURL)
	return nil
}

// healthTarget turns a listen address into the URL to probe, with a transport for a Unix
// socket (nil otherwise).
func healthTarget(listen string) (target string, transport http.RoundTripper, ok bool) {
	if path, isUnix := strings.CutPrefix(listen, "unix:"); isUnix {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
		return "http://mdegate/healthz", tr, true
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", nil, false
	}
	switch ip := net.ParseIP(host); {
	case host == "", ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil, true
}
