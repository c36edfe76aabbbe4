package statuspage

import (
	"context"
	"fmt"
	"time"
)

// t0 is the tests' clock.
var t0 = time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

// sample is a small gateway: a consented tenant, one whose consent is missing, one never used,
// one auto tenant with throttling, and a region cooling down.
func sample() Snapshot {
	return Snapshot{
		Version: "v1.4.0", ConfigFile: "/etc/mdegate/config.yaml", LoadedAt: t0.Add(-42 * time.Minute),
		Started: t0.Add(-26*time.Hour - 3*time.Minute), Reloads: 3, Refused: 1,
		LastRefusal:   `tenants[2].region: "eu-north" is not a known region`,
		LastRefusalAt: t0.Add(-10 * time.Minute),
		Tenants: []Tenant{
			{Alias: "contoso", ID: "11111111-1111-4111-8111-111111111111", Region: "eu", Token: TokenOK,
				Expires: t0.Add(53 * time.Minute), Recent: Counts{Calls: 1234, Errors: 0},
				BusiestAPI: "alerts", QuotaUsed: 41, QuotaLimit: 100},
			{Alias: "fabrikam", ID: "22222222-2222-4222-8222-222222222222", Region: "us", Token: TokenFailing,
				Code: "AADSTS7000229", Hint: "the app has no service principal in this tenant: an admin must consent",
				Recent:     Counts{Calls: 12, Errors: 12},
				ConsentURL: "https://login.microsoftonline.com/22222222-2222-4222-8222-222222222222/adminconsent?client_id=c0ffee00-0000-4000-8000-000000000001&state=abc"},
			{Alias: "northwind", ID: "33333333-3333-4333-8333-333333333333", Region: "uk"},
			{Alias: "tailspin", ID: "44444444-4444-4444-8444-444444444444", Region: "auto", Picked: "eu",
				Token: TokenOK, Expires: t0.Add(12 * time.Minute), Recent: Counts{Calls: 800, Errors: 3, Throttled: 7},
				BusiestAPI: "machines", QuotaUsed: 95, QuotaLimit: 100},
		},
		Regions: []Region{
			{Name: "global", RTT: 21 * time.Millisecond},
			{Name: "eu", RTT: 9*time.Millisecond + 400*time.Microsecond},
			{Name: "us", RTT: 88 * time.Millisecond, CoolingUntil: t0.Add(40 * time.Second)},
			{Name: "uk"},
		},
		Callers: []Caller{{Name: "sentinel-connector", InFlight: 4}, {Name: "soar", InFlight: 0, Refusals: 17}},
	}
}

// many is a gateway with n tenants, one in fifty failing and one in ten unused.
func many(n int) Snapshot {
	s := sample()
	s.Tenants = make([]Tenant, n)
	for i := range s.Tenants {
		t := Tenant{Alias: fmt.Sprintf("customer-%05d", i), ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			Region: []string{"eu", "us", "uk", "auto"}[i%4], Token: TokenOK, Expires: t0.Add(time.Duration(i%60) * time.Minute),
			Recent: Counts{Calls: uint64(i % 500)}, BusiestAPI: "alerts", QuotaUsed: i % 100, QuotaLimit: 100}
		switch {
		case i%50 == 7:
			t.Token, t.Code, t.Hint = TokenFailing, "AADSTS65001", "consent missing"
			t.ConsentURL = "https://login.microsoftonline.com/" + t.ID + "/adminconsent?client_id=x"
		case i%10 == 3:
			t.Token, t.Expires, t.Recent = TokenUnused, time.Time{}, Counts{}
		}
		if t.Region == "auto" {
			t.Picked = "eu"
		}
		s.Tenants[i] = t
	}
	return s
}

func handler(s Snapshot) *Handler {
	return New(Options{Snapshot: func(context.Context) Snapshot { return s }, Now: fixedNow})
}
