package statuspage

import "time"

// Snapshot is everything the page shows, filled by the gateway for one request. It holds no
// credential of any kind by design: add none.
type Snapshot struct {
	// Version is the gateway's version string; "" shows "unknown".
	Version string
	// ConfigFile is the path of the configuration file; "" shows "none".
	ConfigFile string
	// LoadedAt is when the running configuration was loaded; zero shows "never".
	LoadedAt time.Time
	// Started is when the process started; zero hides the uptime.
	Started time.Time
	// Reloads counts configuration reloads applied since start.
	Reloads int
	// Refused counts reloads refused (invalid configuration) since start.
	Refused int
	// LastRefusal is the message of the last refused reload; "" means none was refused.
	LastRefusal string
	// LastRefusalAt is when that reload was refused; zero hides the time.
	LastRefusalAt time.Time

	// Tenants are the configured tenants, in any order: the page sorts them.
	Tenants []Tenant
	// Regions are the region table's endpoints, shown in the order given.
	Regions []Region
	// Callers are the configured callers, shown in the order given.
	Callers []Caller
}

// TokenState is where a tenant's token stands.
type TokenState string

const (
	// TokenOK: the last fetch succeeded and the token is valid.
	TokenOK TokenState = "ok"
	// TokenFailing: the last fetch failed (see Tenant.Code and Tenant.Hint).
	TokenFailing TokenState = "failing"
	// TokenUnused: no token was fetched yet (no call for the tenant since start).
	TokenUnused TokenState = "unused"
)

// Tenant is one configured tenant as the page shows it.
type Tenant struct {
	// Alias is the tenant's configured name.
	Alias string
	// ID is the Entra tenant ID.
	ID string
	// Region is the configured region ("eu", "auto", ...); "" shows "default".
	Region string
	// Picked is the region an "auto" tenant currently uses; "" when Region is not "auto" or
	// nothing was picked yet.
	Picked string
	// Token is the token state; "" is treated as TokenUnused.
	Token TokenState
	// Code is Entra's error code of the last failed fetch ("AADSTS7000229"); "" when none.
	Code string
	// Hint is the operator's one-line hint for the failure; "" when none.
	Hint string
	// Expires is when the current token expires; zero when there is none.
	Expires time.Time
	// Recent counts the calls, errors and MDE 429s of the last five minutes.
	Recent Counts
	// BusiestAPI names the API with the highest quota use relative to its limit
	// ("list_alerts"); "" hides the quota column's value.
	BusiestAPI string
	// QuotaUsed and QuotaLimit are that API's calls in the current quota window and its
	// limit; a QuotaLimit of 0 means no limit is known and shows only the count.
	QuotaUsed, QuotaLimit int
	// ConsentURL is the admin-consent link for the tenant, shown when its token is failing;
	// "" hides it. It must not carry a secret (a signed state is fine).
	ConsentURL string
}

// Region is one regional endpoint.
type Region struct {
	// Name is the region's name ("eu").
	Name string
	// RTT is the last probe's round trip; zero shows "not probed".
	RTT time.Duration
	// CoolingUntil is when the endpoint's cool-down ends; zero (or past) means healthy.
	CoolingUntil time.Time
}

// Caller is one configured API caller.
type Caller struct {
	// Name is the caller's configured name (never its key).
	Name string
	// InFlight is the number of its calls being served now.
	InFlight int
	// Refusals counts its calls refused (over its limits, or not allowed) since start.
	Refusals uint64
}
