package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/mdegate/mdegate/proxy"
)

// apisCommand is `mdegate apis`: the gateway's API table (proxy.APIs), what each documented
// API is shaped at, which token it gets, whether it may be replayed and how long its headers
// may take. With -config the table is the one that configuration builds (limits.families,
// limits.apis, limits.upstream_timeout); without, the documented figures.
func apisCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := fs.String("config", os.Getenv("MDEGATE_CONFIG"), "configuration `file` whose limits overrides to apply ($MDEGATE_CONFIG sets the default; none: the documented limits)")
	return func(context.Context) error { return apisCmd(*configPath, c.stdout, c.stderr) }
}

// apisCmd prints the API table, with configPath's overrides when it is not "".
func apisCmd(configPath string, stdout, stderr io.Writer) error {
	apis := proxy.APIsWith(nil, nil, 0)
	if configPath != "" {
		cfg, err := loadForCommand(configPath, stderr)
		if err != nil {
			return err
		}
		families, _ := cfg.Limits.ProxyLimits()
		apis = proxy.APIsWith(families, cfg.Limits.APILimits(), cfg.Limits.UpstreamTimeout)
	}
	writeAPIs(stdout, apis)
	return nil
}

// writeAPIs prints the table, one API a line, in table order. A limit of "-" is none (the
// API is not shaped in that window).
func writeAPIs(w io.Writer, apis []proxy.API) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMETHOD\tROUTE\tSURFACE\tFAMILY\tPER MIN\tPER HOUR\tREPLAY\tTIMEOUT")
	for _, a := range apis {
		method := a.Method
		if method == "" {
			method = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, method, a.Route, a.Surface, a.Family,
			limitText(a.Limits.PerMinute), limitText(a.Limits.PerHour), replayText(a), durationText(a.Limits.Timeout))
	}
	_ = tw.Flush()
}

func limitText(n int) string {
	if n <= 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// replayText says when a failed call of the API may be sent again: GET and HEAD always, a
// POST only when the table marks it read-only (advanced hunting); others never.
func replayText(a proxy.API) string {
	switch {
	case a.Replay:
		return "yes"
	case a.Method == "GET" || a.Method == "HEAD":
		return "yes"
	case a.Method == "":
		return "GET only"
	}
	return "no"
}

func durationText(d time.Duration) string {
	s := d.String()
	// 4m0s reads better as 4m.
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-2]
		}
	}
	return s
}
