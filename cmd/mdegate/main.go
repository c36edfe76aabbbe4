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
//	mdegate check -config FILE [-o json]  every tenant's token, roles and region at a glance
//	mdegate apis [-config FILE]           the API table: routes, surfaces, limits, timeouts
//	mdegate ca -out DIR                   a CA for the proxy mode and how to trust it
//	mdegate healthcheck                   probe a running gateway (the container's HEALTHCHECK)
//	mdegate version                       print the version, commit and Go version
//
// `mdegate help CMD` (or `mdegate CMD -h`) lists a command's flags. $MDEGATE_CONFIG is the
// default of every -config. The exit status is 0 on success, 1 when the command failed and 2
// when the command line was wrong (an unknown command or flag, a missing value, a stray
// argument).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// commands is the CLI. A new command is one entry here and its function, in a file of its
// own, that declares its flags and returns what runs it (see command).
var commands = []command{
	{name: "serve", synopsis: "[-config FILE]", summary: "run the gateway", flags: serveCommand},
	{name: "demo", synopsis: "[-listen ADDR]", summary: "run the gateway against a built-in emulator of Entra and MDE", flags: demoCommand},
	{name: "check-config", synopsis: "[-config FILE]", summary: "validate a configuration file; exit 0 when it is good", flags: checkConfigCommand},
	{name: "regions", synopsis: "[-config FILE]", summary: "probe every region endpoint: round trip, reachability, auto's pick", flags: regionsCommand},
	{name: "key", summary: "print a new random caller key and its key_sha256 line", flags: keyCommand},
	{name: "consent-url", synopsis: "[-config FILE] [-tenant NAME | -new ALIAS] [-redirect-uri URI] [-state-ttl D]", summary: "the admin consent links (legacy and v2) to send each customer", flags: consentURLCommand},
	{name: "token", synopsis: "[-config FILE] -tenant NAME [-resource mde|xdr|graph|URI] [-raw]", summary: "get the tenant's token and check tid, aud, appid, roles and exp", flags: tokenCommand},
	{name: "check", synopsis: "[-config FILE] [-o table|json]", summary: "every tenant's token, roles and region; exit 1 when any tenant is broken", flags: checkCommand},
	{name: "apis", synopsis: "[-config FILE]", summary: "the API table: name (limits.apis.NAME), route, surface, limits, replay, header timeout", flags: apisCommand},
	{name: "ca", synopsis: "-out DIR [-system-roots FILE]", summary: "a CA for the proxy mode (ca.pem, ca-key.pem, bundle.pem) and how to make tools trust it", flags: caCommand},
	{name: "healthcheck", synopsis: "[-config FILE] [-url URL]", summary: "GET the running gateway's /healthz; exit 0 when it answers 200", flags: healthcheckCommand},
	{name: "version", summary: "print the version, commit and Go version", flags: versionCommand},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
