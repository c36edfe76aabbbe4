// Command mdegate is a reverse-proxy gateway in front of the Microsoft Defender for Endpoint
// API: callers name a customer tenant, mdegate injects a token minted for that tenant with the
// partner's multi-tenant Entra app and forwards the call to the tenant's regional endpoint.
//
//	mdegate serve -config mdegate.yaml    run the gateway
//	mdegate demo                          run it against a built-in emulator (no Azure account)
//	mdegate check-config -config FILE     validate a configuration file
//	mdegate regions -config FILE          measure the region table and show what auto picks
//	mdegate key                           make a caller key and its key_sha256 line
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
	if err := fs.Parse(args); err != nil {
		return errReported
	}
	switch cmd {
	case "serve":
		cfg, err := LoadConfig(*configPath)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "check-config":
		cfg, err := LoadConfig(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return errReported
		}
		fmt.Fprintf(stdout, "%s: ok (%d tenants, cloud %s, %d regions)\n", *configPath, len(cfg.Tenants), cfg.Cloud.Name, len(cfg.Cloud.cloud.Regions))
		return nil
	case "regions":
		cfg, err := LoadConfig(*configPath)
		if err != nil {
			return err
		}
		return regions(ctx, cfg, stdout)
	case "demo":
		return demo(ctx, *listen, stdout)
	case "key":
		return newKey(stdout)
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
