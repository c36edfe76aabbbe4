// Package statuspage renders the operator's status page: one server-rendered HTML page (no
// JavaScript, a 15-second meta refresh) with every tenant's token state, region, recent calls
// and quota use, the regions' health, the callers' load and the running configuration.
//
// The page knows nothing of the gateway's internals: the gateway fills a plain Snapshot on
// each request (Options.Snapshot) and the handler sorts it failing-first, filters it (?q=) and
// pages it (?page=). Snapshot has no field that could hold a token, secret or key, so none can
// reach the page. Recent is the allocation-free per-tenant counter of the last five minutes
// the gateway can keep to fill Tenant.Recent.
package statuspage
