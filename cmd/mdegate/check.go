package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// checkParallel bounds how many tenants are checked at once: Entra throttles bursts.
const checkParallel = 8

// tenantCheck is one line of `mdegate check`.
type tenantCheck struct {
	tenant  config.TenantConfig
	region  string
	token   string // "ok", or the AADSTS code / short reason
	roles   string
	missing []string // roles of app.roles the token lacks
	others  string   // the XDR and Graph tokens, "xdr:ok graph:AADSTS..." (not judged broken)
	fix     string
	broken  bool
}

// checkCommand is `mdegate check`.
func checkCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	format := fs.String("o", "table", "output `format`: table, or json for automation (a stable shape, see the README)")
	return func(ctx context.Context) error {
		if *format != "table" && *format != "json" {
			return usagef("-o %q: want table or json", *format)
		}
		return check(ctx, *configPath, *format == "json", c.stdout, c.stderr)
	}
}

// check prints one line per tenant: whether a token can be had (or Entra's code and the fix),
// the roles it holds against app.roles, the tenant's region with its round-trip time, and
// whether its Defender XDR and Graph tokens can be had, as a table or (asJSON) a checkReport. The table comes with a progress line on stderr while it
// works. It fails when any tenant is broken.
func check(ctx context.Context, configPath string, asJSON bool, stdout, stderr io.Writer) error {
	cfg, err := loadForCommand(configPath, stderr)
	if err != nil {
		return err
	}
	apps, stop, err := commandSources(cfg)
	if err != nil {
		return err
	}
	defer stop()
	roots, err := cfg.Roots()
	if err != nil {
		return err
	}

	rtts, err := regionRTTs(ctx, cfg, roots)
	if err != nil {
		return err
	}
	results := make([]tenantCheck, len(cfg.Tenants))
	var (
		mu   sync.Mutex // guards done and the progress line
		done int
	)
	progress := func() {
		if asJSON {
			return // automation reads stdout; a \r line would only clutter its log
		}
		fmt.Fprintf(stderr, "\rchecking tenants: %d/%d", done, len(cfg.Tenants))
	}
	progress()
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(checkParallel, len(cfg.Tenants)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = checkTenant(ctx, cfg, apps, cfg.Tenants[i])
				mu.Lock()
				done++
				progress()
				mu.Unlock()
			}
		}()
	}
	for i := range cfg.Tenants {
		work <- i
	}
	close(work)
	wg.Wait()
	broken := 0
	for _, r := range results {
		if r.broken {
			broken++
		}
	}
	if asJSON {
		if err := writeCheckJSON(stdout, results, rtts, broken); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stderr, "\rchecked %d tenants%s\n", len(cfg.Tenants), strings.Repeat(" ", 8))
		writeCheckTable(stdout, results, rtts)
	}
	if broken > 0 {
		fmt.Fprintf(stderr, "%d of %d tenants are broken\n", broken, len(cfg.Tenants))
		return errReported
	}
	return nil
}

// writeCheckTable prints the results as `mdegate check` shows them to a person.
func writeCheckTable(w io.Writer, results []tenantCheck, rtts map[string]regionRTT) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tTENANT ID\tREGION\tRTT\tTOKEN\tROLES\tXDR/GRAPH\tFIX")
	for _, r := range results {
		fix := r.fix
		if fix == "" {
			fix = "-"
		}
		rtt := "?" // auto: the prober picks a region per request
		if p, ok := rtts[r.region]; ok && p.up {
			rtt = p.rtt.Round(100 * time.Microsecond).String()
		} else if ok {
			rtt = "down"
		}
		others := r.others
		if others == "" {
			others = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.tenant.Name, r.tenant.ID, r.region, rtt, r.token, r.roles, others, fix)
	}
	_ = tw.Flush()
}

// checkReport is what `mdegate check -o json` prints: one object, documented in the README.
// The shape is stable: fields may be added, none is renamed, retyped or removed.
type checkReport struct {
	// OK is true when no tenant is broken (the exit status is then 0).
	OK bool `json:"ok"`
	// Broken counts the broken tenants.
	Broken int `json:"broken"`
	// Tenants are in the configuration's order.
	Tenants []checkedTenant `json:"tenants"`
}

// checkedTenant is one tenant of checkReport.
type checkedTenant struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Region is the tenant's region, or routing.region when it names none ("auto" included).
	Region string `json:"region"`
	// RegionUp is whether the region answered; null for auto (the prober picks per call).
	RegionUp *bool `json:"region_up"`
	// RTTMillis is the region's round trip in milliseconds; null when down or auto.
	RTTMillis *float64 `json:"rtt_ms"`
	// Token is "ok", Entra's AADSTS code, or a short reason ("failed", "wrong aud ...").
	Token string `json:"token"`
	// Roles is the ROLES column of the table: "ok (2/2)", "missing ...", "none", "3 held", "-".
	Roles string `json:"roles"`
	// MissingRoles are the roles of app.roles the token lacks; [] when none.
	MissingRoles []string `json:"missing_roles"`
	// OtherTokens says whether the Defender XDR and Graph tokens can be had, as the table's
	// XDR/GRAPH column: "xdr:ok graph:AADSTS65001"; "" when the MDE token failed first.
	// They never make a tenant broken.
	OtherTokens string `json:"other_tokens"`
	// Fix says what to do; "" when nothing.
	Fix string `json:"fix"`
	// OK is false when the tenant is broken.
	OK bool `json:"ok"`
}

// writeCheckJSON prints the results as a checkReport.
func writeCheckJSON(w io.Writer, results []tenantCheck, rtts map[string]regionRTT, broken int) error {
	rep := checkReport{OK: broken == 0, Broken: broken, Tenants: make([]checkedTenant, 0, len(results))}
	for _, r := range results {
		t := checkedTenant{Name: r.tenant.Name, ID: r.tenant.ID, Region: r.region, Token: r.token, Roles: r.roles,
			MissingRoles: append([]string{}, r.missing...), OtherTokens: r.others, Fix: r.fix, OK: !r.broken}
		if p, ok := rtts[r.region]; ok {
			t.RegionUp = &p.up
			if p.up {
				ms := routing.Millis(p.rtt)
				t.RTTMillis = &ms
			}
		}
		rep.Tenants = append(rep.Tenants, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// checkTenant gets the tenant's token and judges its claims.
func checkTenant(ctx context.Context, cfg *config.Config, apps *tokens.Apps, t config.TenantConfig) tenantCheck {
	r := tenantCheck{tenant: t, region: t.Region, roles: "-"}
	if r.region == "" {
		r.region = cfg.Routing.Region
	}
	tok, err := apps.Token(ctx, t.ID)
	if err != nil {
		r.broken = true
		var te *tokens.Error
		switch {
		case errors.As(err, &te) && te.Code != "":
			r.token, r.fix = te.Code, fixFor(te, t.Name)
		case errors.As(err, &te):
			r.token, r.fix = "failed", te.Hint()
		default:
			r.token, r.fix = "failed", err.Error()
		}
		return r
	}
	c, err := decodeClaims(strings.TrimPrefix(tok.Bearer, "Bearer "))
	if err != nil {
		r.token, r.fix, r.broken = "unreadable", err.Error(), true
		return r
	}
	r.others = otherTokens(ctx, cfg, apps, t.ID)
	app := cfg.AppOf(t)
	v := judge(c, t, app)
	r.token = "ok"
	var fixes []string
	switch {
	case v.tid != "":
		r.token = "wrong tid " + c.Tid
		fixes = append(fixes, "the token is for another tenant: check tenants[].id")
	case v.aud != "":
		r.token = "wrong aud " + c.Aud
		fixes = append(fixes, "check app.scope (the token is not for the MDE API)")
	case v.appid != "":
		r.token = "wrong appid " + c.AppID
		fixes = append(fixes, "check the app's client_id")
	}
	switch {
	case len(v.missing) > 0:
		r.missing = v.missing
		r.roles = "missing " + strings.Join(v.missing, ",")
		fixes = append(fixes, "grant the missing permissions on the app, then ask the customer's admin to consent again")
	case v.noRoles:
		r.roles = "none"
		fixes = append(fixes, "the token holds no roles: grant application permissions, then ask the customer's admin to consent again")
	case len(app.Roles) > 0:
		r.roles = fmt.Sprintf("ok (%d/%d)", len(app.Roles), len(app.Roles))
	default:
		r.roles = fmt.Sprintf("%d held", len(c.Roles))
	}
	r.broken = !v.ok()
	r.fix = strings.Join(fixes, "; ")
	return r
}

// regionRTT is one region's measured round trip; rtt is meaningless when !up.
type regionRTT struct {
	rtt time.Duration
	up  bool
}

// regionRTTs measures every region's round trip the way `mdegate regions` and the gateway's
// prober do (routing.Prober: the median of fresh GETs), so the commands agree.
func regionRTTs(ctx context.Context, cfg *config.Config, roots *x509.CertPool) (map[string]regionRTT, error) {
	routes, err := routing.New(cfg.RoutingOptions())
	if err != nil {
		return nil, err
	}
	out := map[string]regionRTT{}
	for _, p := range newProber(cfg, routes, roots, nil).Round(ctx) {
		out[p.Endpoint.Region] = regionRTT{rtt: p.RTT, up: p.Reachable}
	}
	return out, nil
}

// otherTokens tries the tenant's tokens for the other surfaces the gateway serves (issue 17:
// Defender XDR, Graph security) and says, per surface, ok or Entra's code. A tenant whose
// tools use only MDE needs neither, so they never make it broken.
func otherTokens(ctx context.Context, cfg *config.Config, apps *tokens.Apps, tenantID string) string {
	c := cfg.Resolved.Cloud
	var parts []string
	for _, s := range []struct{ name, resource string }{{"xdr", c.XDRResource}, {"graph", c.GraphResource}} {
		state := "ok"
		if _, err := apps.TokenFor(ctx, tenantID, s.resource); err != nil {
			var te *tokens.Error
			state = "failed"
			if errors.As(err, &te) && te.Code != "" {
				state = te.Code
			}
		}
		parts = append(parts, s.name+":"+state)
	}
	return strings.Join(parts, " ")
}
