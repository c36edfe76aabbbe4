package main

import (
	"context"
	"crypto/x509"
	"errors"
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
	tenant config.TenantConfig
	region string
	token  string // "ok", or the AADSTS code / short reason
	roles  string
	others string // the XDR and Graph tokens, "xdr:ok graph:AADSTS..." (not judged broken)
	fix    string
	broken bool
}

// check prints one line per tenant: whether a token can be had (or Entra's code and the fix),
// the roles it holds against app.roles, the tenant's region with its round-trip time, and
// whether its Defender XDR and Graph tokens can be had. It
// writes a progress line on stderr while it works and fails when any tenant is broken.
func check(ctx context.Context, configPath string, stdout, stderr io.Writer) error {
	cfg, err := loadForCommand(configPath, stderr)
	if err != nil {
		return err
	}
	apps, err := commandSources(cfg)
	if err != nil {
		return err
	}
	defer apps.Close()
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
	fmt.Fprintf(stderr, "\rchecked %d tenants%s\n", len(cfg.Tenants), strings.Repeat(" ", 8))

	broken := 0
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tTENANT ID\tREGION\tRTT\tTOKEN\tROLES\tXDR/GRAPH\tFIX")
	for _, r := range results {
		if r.broken {
			broken++
		}
		fix := r.fix
		if fix == "" {
			fix = "-"
		}
		rtt, ok := rtts[r.region]
		if !ok {
			rtt = "?" // auto: the prober picks a region per request
		}
		others := r.others
		if others == "" {
			others = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.tenant.Name, r.tenant.ID, r.region, rtt, r.token, r.roles, others, fix)
	}
	_ = tw.Flush()
	if broken > 0 {
		fmt.Fprintf(stderr, "%d of %d tenants are broken\n", broken, len(cfg.Tenants))
		return errReported
	}
	return nil
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

// regionRTTs measures every region's round trip the way `mdegate regions` and the gateway's
// prober do (routing.Prober: the median of fresh GETs), so the commands agree. A region is
// shown by its round trip, or "down".
func regionRTTs(ctx context.Context, cfg *config.Config, roots *x509.CertPool) (map[string]string, error) {
	routes, err := routing.New(cfg.RoutingOptions())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range newProber(cfg, routes, roots, nil).Round(ctx) {
		if p.Reachable {
			out[p.Endpoint.Region] = p.RTT.Round(100 * time.Microsecond).String()
		} else {
			out[p.Endpoint.Region] = "down"
		}
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
