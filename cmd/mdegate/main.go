// Command mdegate is a reverse-proxy gateway in front of the Microsoft Defender for Endpoint
// API: callers name a customer tenant, mdegate injects a token minted for that tenant with the
// partner's multi-tenant Entra app and forwards the call to the tenant's regional endpoint.
//
//	mdegate serve -config mdegate.yaml    run the gateway
//	mdegate demo                          run it against a built-in emulator (no Azure account)
//	mdegate check-config -config FILE     validate a configuration file
//	mdegate regions -config FILE          measure the region table and show what auto picks
//	mdegate key                           make a caller key and its key_sha256 line
//	mdegate consent-url -config FILE      the admin consent links to send each customer
//	mdegate token -config FILE -tenant T  get a tenant's token and check its claims
//	mdegate check -config FILE            every tenant's token, roles and region at a glance
//	mdegate healthcheck                   probe a running gateway (the container's HEALTHCHECK)
//	mdegate version                       print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mdegate/mdegate/internal/config"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "mdegate:", err)
		}
		os.Exit(1)
	}
}

// errReported means the command already told the user what went wrong; exit non-zero quietly.
var errReported = errors.New("reported")

const usage = `usage: mdegate <command> [flags]

commands:
  serve -config FILE         run the gateway (default config mdegate.yaml)
  demo [-listen ADDR]        run the gateway against a built-in emulator of Entra and MDE
  check-config -config FILE  validate a configuration file; exit 0 when it is good
  regions -config FILE       probe every region endpoint: round trip, reachability, auto's pick
  key                        print a new random caller key and its key_sha256 line
  consent-url -config FILE [-tenant NAME] [-redirect-uri URI]
                             the admin consent links (legacy and v2) to send each customer
  token -config FILE -tenant NAME [-raw]
                             get the tenant's token and check tid, aud, appid, roles and exp;
                             the token itself is printed only with -raw (alone, on stdout)
  check -config FILE         one line per tenant: token or AADSTS code with the fix, roles
                             held, region and its round trip; exit 1 when any tenant is broken
  healthcheck [-config FILE] [-url URL]
                             GET the running gateway's /healthz; exit 0 when it answers 200
  version                    print the version
`

// run is the whole program; main only adds the process around it, so tests drive the real CLI.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errReported
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("mdegate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "mdegate.yaml", "configuration file")
	listen := fs.String("listen", "127.0.0.1:8080", "demo: address of the gateway")
	tenant := fs.String("tenant", "", "consent-url, token: the tenant (name or ID)")
	raw := fs.Bool("raw", false, "token: print the token itself (alone, on stdout)")
	redirectURI := fs.String("redirect-uri", "", "consent-url: reply URL of the app (default app.redirect_uri)")
	healthURL := fs.String("url", "", "healthcheck: URL to probe (default http://<listen>/healthz from the config)")
	if err := fs.Parse(args); err != nil {
		return errReported
	}
	switch cmd {
	case "serve":
		cfg, _, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, gatewayOptions{})
	case "check-config":
		cfg, _, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return errReported
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(stderr, "warning:", w)
		}
		fmt.Fprintf(stdout, "%s: ok (%d tenants, cloud %s, %d regions)\n", *configPath, len(cfg.Tenants), cfg.Cloud.Name, len(cfg.Resolved.Cloud.Regions))
		return nil
	case "regions":
		cfg, _, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		return regions(ctx, cfg, stdout)
	case "demo":
		return demo(ctx, *listen, stdout)
	case "key":
		return newKey(stdout)
	case "consent-url":
		return consentURL(*configPath, *tenant, *redirectURI, stdout, stderr)
	case "token":
		return tokenCmd(ctx, *configPath, *tenant, *raw, stdout, stderr)
	case "check":
		return check(ctx, *configPath, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, *configPath, *healthURL, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mdegate", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "mdegate: unknown command %q\n\n%s", cmd, usage)
		return errReported
	}
}
