package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/consent"
	"github.com/mdegate/mdegate/internal/emulator"
)

// The demo's customers: two that consented to the partner app and one that did not.
const (
	demoClientID  = "6a1c3f0e-2b4d-4e8f-9a7b-0c1d2e3f4a5b"
	demoContoso   = "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"
	demoFabrikam  = "0b7e4c1a-5f2d-4e8b-a1c3-9d8e7f6a5b4c"
	demoNorthwind = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
)

// demoOptions are the emulator's app, tenants and regions for the demo (and the tests).
func demoOptions(secret string) emulator.Options {
	return emulator.Options{
		Apps: []emulator.App{{ClientID: demoClientID, Secret: secret}},
		Tenants: []emulator.Tenant{
			{ID: demoContoso, Name: "contoso", Consented: true},
			{ID: demoFabrikam, Name: "fabrikam", Consented: true},
			{ID: demoNorthwind, Name: "northwind", Consented: false},
		},
		Regions: []string{"global", "eu", "us"},
	}
}

// demoYAML is the gateway's configuration against the emulator. caFile may be "" when the
// caller hands the emulator's CA over in memory.
func demoYAML(emu *emulator.Emulator, listen, secret, caFile, extra string) string {
	app := fmt.Sprintf("app: {client_id: %s, client_secret: %q}\n", demoClientID, secret)
	return gatewayYAML(emu, listen, caFile, app, demoTenantsYAML, extra)
}

// demoTenantsYAML are the demo's tenants as config.
var demoTenantsYAML = fmt.Sprintf(`tenants:
  - {name: contoso, id: %s, region: eu}
  - {name: fabrikam, id: %s, region: us}
  - {name: northwind, id: %s}
`, demoContoso, demoFabrikam, demoNorthwind)

// gatewayYAML is a configuration against the emulator with the given app and tenants
// sections, and extra YAML appended.
func gatewayYAML(emu *emulator.Emulator, listen, caFile, app, tenants, extra string) string {
	var b strings.Builder
	// No log.format: console when the demo runs in a terminal, json into a pipe or a test.
	fmt.Fprintf(&b, "listen: %q\nlog: {level: info}\n", listen)
	fmt.Fprintf(&b, "cloud:\n  name: public\n  login_endpoint: %s\n  graph: %s\n", emu.LoginURL(), emu.GraphURL())
	if caFile != "" {
		fmt.Fprintf(&b, "  ca_file: %q\n", caFile)
	}
	b.WriteString("  regions:\n")
	for _, name := range regionList(emu) {
		fmt.Fprintf(&b, "    %s: %s\n", name, emu.RegionURL(name))
	}
	b.WriteString(app)
	b.WriteString(tenants)
	b.WriteString(extra)
	return b.String()
}

// demoCommand is `mdegate demo`.
func demoCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	listen := fs.String("listen", "127.0.0.1:8080", "`address` of the gateway")
	return func(ctx context.Context) error { return demo(ctx, *listen, c.stdout) }
}

// demo runs the emulator and the gateway in front of it until ctx is done.
func demo(ctx context.Context, listen string, stdout io.Writer) error {
	secret := randomSecret()
	emu, err := emulator.Start(demoOptions(secret))
	if err != nil {
		return fmt.Errorf("demo: emulator: %w", err)
	}
	defer emu.Close()
	admin, err := demoAdminListen(listen)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The emulator's CA is handed over in memory: the demo writes no file.
	cfg, err := config.Parse(strings.NewReader(demoYAML(emu, listen, secret, "", "admin_listen: "+strconv.Quote(admin)+"\n")), "demo")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg.Resolved.CAPEM = emu.CAPEM()
	cfg.Resolved.ConsentKey = consent.NewKey() // so the demo can sign a landing URL itself
	base := "http://" + listen
	fmt.Fprintf(stdout, `mdegate demo: Entra emulator at %s, MDE regions %v, Graph at %[7]s.
Tenants: contoso (eu) and fabrikam (us) consented; northwind did not consent.
Try, in another shell:

  curl -s %[3]s/api/alerts -H 'X-Tenant-ID: contoso'
  curl -s %[3]s/api/machines -H 'X-Tenant-ID: %[4]s'        # the same tenant by GUID
  curl -s %[3]s/api/machines -H 'X-Tenant-ID: fabrikam'     # another customer, other data
  curl -s %[3]s/tenants/contoso/api/machines                # tenant in the base URL; nextLink stays on the gateway
  curl -s %[3]s/api/advancedqueries/run -H 'X-Tenant-ID: contoso' -d '{"Query":"DeviceInfo | take 3"}'
  curl -s %[3]s/api/incidents -H 'X-Tenant-ID: contoso'     # Defender XDR: the gateway injects an XDR token
  curl -s %[3]s/v1.0/security/incidents -H 'X-Tenant-ID: contoso'   # Graph security, with a Graph token
  curl -s %[3]s/api/alerts                                  # 400 MissingTenant
  curl -s %[3]s/api/alerts -H 'X-Tenant-ID: tailspin'       # 404 UnknownTenant
  curl -s %[3]s/api/alerts -H 'X-Tenant-ID: northwind'      # 503 TokenUnavailable (AADSTS700016)
  curl -s %[3]s/api/nope -H 'X-Tenant-ID: contoso'          # MDE's own 404, passed through

In a browser:

  http://%[5]s/    the status page (after the curls above: contoso ok, northwind failing)
  %[6]s
                   the consent landing page, as Entra redirects contoso's admin after consenting

Stop with Ctrl-C. The gateway's log follows.

`, emu.LoginURL(), regionList(emu), base, demoContoso, admin, demoLandingURL(base, cfg.Resolved.ConsentKey, "contoso", demoContoso), emu.GraphURL())
	return serve(ctx, cfg, stdout, gatewayOptions{})
}

func regionList(emu *emulator.Emulator) []string {
	var names []string
	for name := range emu.RegionURLs() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// randomSecret makes the demo app's client secret: it exists only in this process.
func randomSecret() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return "demo~" + hex.EncodeToString(b[:])
}

// demoAdminListen is the demo's admin_listen: the next port on the same loopback host as
// listen (8081 for the default 8080); port 0 stays 0 (any free port).
func demoAdminListen(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("-listen %q: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p >= 65535 {
		return "", fmt.Errorf("-listen %q: not a port number", listen)
	}
	if p != 0 {
		p++
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// demoLandingURL is the URL Entra redirects a tenant's admin to after consenting through a
// link with a state signed under key (valid for a day).
func demoLandingURL(base string, key []byte, alias, tenantID string) string {
	s := stateSigner(key, nil)
	q := url.Values{"tenant": {tenantID}, "admin_consent": {"True"},
		"state": {s.Sign(alias, time.Now().Add(24*time.Hour))}}
	return base + consent.CallbackPath + "?" + q.Encode()
}
