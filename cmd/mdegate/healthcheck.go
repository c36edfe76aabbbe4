package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mdegate/mdegate/internal/config"
)

// healthTimeout bounds the whole probe: a container runtime kills a slower check anyway.
const healthTimeout = 3 * time.Second

// healthcheckCommand is `mdegate healthcheck`.
func healthcheckCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	rawURL := fs.String("url", "", "`URL` to probe (default http://<admin_listen or listen>/healthz from the config, else http://127.0.0.1:8080/healthz)")
	return func(ctx context.Context) error { return healthcheck(ctx, *configPath, *rawURL, c.stdout, c.stderr) }
}

// healthcheck probes a running gateway's /healthz and succeeds on a 200. It needs no shell,
// so an image without one (distroless, scratch) can run it as its HEALTHCHECK. The address
// is rawURL, or else healthListen's.
func healthcheck(ctx context.Context, configPath, rawURL string, stdout, stderr io.Writer) error {
	client := &http.Client{Timeout: healthTimeout}
	if rawURL == "" {
		listen, err := healthListen(configPath)
		if err != nil {
			fmt.Fprintf(stderr, "mdegate healthcheck: %v\n", err)
			return errReported
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

// healthListen is the address healthcheck probes when no -url is given: the config file's
// admin_listen (/healthz is served there, and only there), else its listen, else the default
// listen address when there is no file. Only those two keys are read: a probe must not fail
// because of a ${VAR} unset in its environment or an edit the running gateway refused
// (issue 18).
func healthListen(configPath string) (string, error) {
	addrs, err := config.ListenAddrs(configPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if addrs.AdminListen != "" {
		return addrs.AdminListen, nil
	}
	return addrs.Listen, nil
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
