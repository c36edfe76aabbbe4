package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/tokens"
)

// checkParallel bounds how many tenants are checked at once: Entra throttles bursts.
const checkParallel = 8

// probeTimeout bounds the connection to one region when measuring its round trip.
const probeTimeout = 5 * time.Second

// tenantCheck is one line of `mdegate check`.
type tenantCheck struct {
	tenant config.TenantConfig
	region string
	token  string // "ok", or the AADSTS code / short reason
	roles  string
	fix    string
	broken bool
}

// check prints one line per tenant: whether a token can be had (or Entra's code and the fix),
// the roles it holds against app.roles, and the tenant's region with its round-trip time. It
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

	rtts := probeRegions(ctx, cfg, roots)
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
	fmt.Fprintln(tw, "TENANT\tTENANT ID\tREGION\tRTT\tTOKEN\tROLES\tFIX")
	for _, r := range results {
		if r.broken {
			broken++
		}
		fix := r.fix
		if fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.tenant.Name, r.tenant.ID, r.region, rtts[r.region], r.token, r.roles, fix)
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

// probeRegions measures, for each region a tenant uses, the time to open a TLS connection
// to its API host (TCP and TLS handshakes, about two round trips), or why it failed.
func probeRegions(ctx context.Context, cfg *config.Config, roots *x509.CertPool) map[string]string {
	used := map[string]bool{}
	for _, t := range cfg.Tenants {
		if t.Region != "" {
			used[t.Region] = true
		} else {
			used[cfg.Routing.Region] = true
		}
	}
	out := make(map[string]string, len(used))
	for region := range used {
		out[region] = probe(ctx, cfg.Resolved.Cloud.Regions[region], roots)
	}
	return out
}

func probe(ctx context.Context, base string, roots *x509.CertPool) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "?"
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "down"
	}
	rtt := time.Since(start)
	_ = conn.Close()
	return rtt.Round(100 * time.Microsecond).String()
}
