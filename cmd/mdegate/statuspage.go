package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/statuspage"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// The status page (issue 19) at / of admin_listen: the gateway's live state as
// internal/statuspage's Snapshot, filled on each request from the current generation, the
// token source, the per-tenant call counters (callBook), the region table and the reload
// history (reloadBook). The caller-facing listeners show it only to an admin caller
// (gateway.ServeHTTP).

// callBook counts each tenant's calls of the last five minutes for the status page. It sits
// in front of the Prometheus registry as the proxy's Metrics, so the hot path costs a map
// lookup and Recent.Add and allocates nothing. Counters are keyed by tenant ID and carried
// over reloads.
type callBook struct {
	next proxy.Metrics
	now  func() time.Time

	byID atomic.Pointer[map[string]*statuspage.Recent] // replaced whole by retain, read per call
	mu   sync.Mutex                                    // serializes retain
}

var _ proxy.Metrics = (*callBook)(nil)

func newCallBook(next proxy.Metrics, now func() time.Time) *callBook {
	b := &callBook{next: next, now: now}
	b.byID.Store(&map[string]*statuspage.Recent{})
	return b
}

// Start implements proxy.Metrics.
func (b *callBook) Start() { b.next.Start() }

// Done implements proxy.Metrics: an error is a call the gateway answered 5xx or whose round
// trip to MDE failed; a throttled call is one MDE itself answered 429.
func (b *callBook) Done(o proxy.Observation) {
	b.next.Done(o)
	if o.Tenant == nil {
		return
	}
	if r := (*b.byID.Load())[o.Tenant.ID]; r != nil {
		r.Add(b.now(), o.Status >= 500 || o.UpstreamFailed, o.Status == 429 && o.Reached)
	}
}

// retain makes the counters those of tenants: a tenant kept by a reload keeps its counts, a
// new one starts at zero, a removed one is forgotten.
func (b *callBook) retain(tenants []*routing.Tenant) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.byID.Load()
	next := make(map[string]*statuspage.Recent, len(tenants))
	for _, tn := range tenants {
		r := old[tn.ID]
		if r == nil {
			r = new(statuspage.Recent)
		}
		next[tn.ID] = r
	}
	b.byID.Store(&next)
}

// recent returns the tenant's counters; nil when it has none.
func (b *callBook) recent(tenantID string) *statuspage.Recent { return (*b.byID.Load())[tenantID] }

// reloadBook remembers the reloads for the status page.
type reloadBook struct {
	mu            sync.Mutex // guards all below
	reloads       int
	refused       int
	lastRefusal   string
	lastRefusalAt time.Time
}

func (rb *reloadBook) applied() {
	rb.mu.Lock()
	rb.reloads++
	rb.mu.Unlock()
}

// refusedWith records a refused reload; the message is the config problems (which never
// quote a secret) or the error.
func (rb *reloadBook) refusedWith(err error, at time.Time) {
	msg := err.Error()
	if ps := configProblems(err); ps != nil {
		msg = strings.Join(ps, "; ")
	}
	rb.mu.Lock()
	rb.refused++
	rb.lastRefusal, rb.lastRefusalAt = msg, at
	rb.mu.Unlock()
}

// statusSnapshot is the status page's Snapshot of the current generation.
func (gw *gateway) statusSnapshot(ctx context.Context) statuspage.Snapshot {
	s := statuspage.Snapshot{Version: buildVersion().Version, ConfigFile: gw.path, Started: gw.started}
	gw.reloads.mu.Lock()
	s.Reloads, s.Refused, s.LastRefusal, s.LastRefusalAt = gw.reloads.reloads, gw.reloads.refused,
		gw.reloads.lastRefusal, gw.reloads.lastRefusalAt
	gw.reloads.mu.Unlock()
	g := gw.acquire()
	if g == nil {
		return s
	}
	defer g.release()
	s.LoadedAt = g.loaded
	now := gw.now()
	ts := g.routes.Tenants()
	s.Tenants = make([]statuspage.Tenant, len(ts))
	for i, tn := range ts {
		t := &s.Tenants[i]
		t.Alias, t.ID, t.Region = tn.Name, tn.ID, tn.Endpoint.Region
		if tn.Auto {
			t.Region = routing.Auto
			if ep, _ := g.routes.Pick(g.routes.Candidates(tn), -1); ep != nil {
				t.Picked = ep.Region
			}
		}
		fillToken(t, g.tokens.Statuses(tn.ID))
		if r := gw.calls.recent(tn.ID); r != nil {
			t.Recent = r.Last5(now)
		}
		// The API closest to its per-minute limit, read from the limiter's logs (with Redis:
		// only while degraded, see proxy.RedisLimiter.Busiest).
		if u, ok := g.handler.QuotaUse(tn.ID); ok {
			t.BusiestAPI, t.QuotaUsed, t.QuotaLimit = u.API, u.Used, u.Limit
		}
		if t.Token == statuspage.TokenFailing {
			t.ConsentURL = gw.consentLink(g.cfg, i, tn)
		}
	}
	for _, ep := range g.routes.Endpoints() {
		rtt, _ := ep.RTT()
		s.Regions = append(s.Regions, statuspage.Region{Name: ep.Region, RTT: rtt, CoolingUntil: ep.DownUntil()})
	}
	for _, c := range g.handler.Callers(nil) {
		s.Callers = append(s.Callers, statuspage.Caller{Name: c.Name, InFlight: c.InFlight, Refusals: c.Refusals})
	}
	return s
}

// fillToken sets the tenant's token state from its statuses per resource: the default
// resource's (the first), failing when any resource's fetch fails, with that failure's code
// and hint. An expired token (nobody called since it ran out) shows as unused, with its
// expiry.
func fillToken(t *statuspage.Tenant, sts []tokens.ResourceStatus) {
	if len(sts) == 0 {
		return
	}
	st := sts[0].Status
	for _, rs := range sts[1:] {
		if rs.State == tokens.StateFailing && st.State != tokens.StateFailing {
			st.State, st.Code, st.Hint = rs.State, rs.Code, rs.Hint
		}
	}
	switch st.State {
	case tokens.StateOK:
		t.Token = statuspage.TokenOK
	case tokens.StateFailing:
		t.Token, t.Code, t.Hint = statuspage.TokenFailing, st.Code, st.Hint
	default:
		t.Token = statuspage.TokenUnused
	}
	t.Expires = st.Expires
}

// consentLink is the admin-consent link the status page shows for a failing tenant: the one
// `mdegate consent-url` prints (the v2 link when there is a redirect URI, else the legacy
// one), with a state signed by the gateway's key.
// i is the tenant's index in the routing table, which keeps the configuration's order.
func (gw *gateway) consentLink(cfg *config.Config, i int, tn *routing.Tenant) string {
	if i >= len(cfg.Tenants) || cfg.Tenants[i].ID != tn.ID {
		if i = cfg.TenantIndex(tn.ID); i < 0 {
			return ""
		}
	}
	legacy, link := tenantConsentLinks(cfg, cfg.Tenants[i], "")
	if link == "" {
		link = legacy
	}
	return withState(link, gw.signer, tn.Name, defaultStateTTL)
}
