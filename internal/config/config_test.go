package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/intercept"
)

// lines joins YAML lines, so a test can count them.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// Line numbers of the parts of minimal, for tests that append to it.
const (
	clientID = "11111111-2222-3333-4444-555555555555"
	tenantID = "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"
	tenant2  = "0b7e9a52-6c1d-4f3e-8a2b-9c8d7e6f5a4b"
)

// minimal is the smallest valid configuration (lines 1-6).
var minimal = lines(
	"app:",
	"  client_id: "+clientID,
	"  client_secret: s3cret",
	"tenants:",
	"  - name: contoso",
	"    id: "+tenantID,
)

// tenantsOnly is minimal without the app section (lines 1-3), for app tests.
var tenantsOnly = lines(
	"tenants:",
	"  - name: contoso",
	"    id: "+tenantID,
)

// appOnly is minimal without tenants (lines 1-3).
var appOnly = lines(
	"app:",
	"  client_id: "+clientID,
	"  client_secret: s3cret",
)

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader(text), "mdegate.yaml")
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := parse(t, text)
	if err != nil {
		t.Fatalf("ParseConfig: %v\ninput:\n%s", err, text)
	}
	return cfg
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type testPEMs struct {
	rsaCert, rsaKey   []byte // self-signed RSA certificate and its PKCS#1 key
	otherKey          []byte // an RSA key that matches no certificate
	ecCert, ecKey     []byte // an ECDSA certificate and its PKCS#8 key
	rsaCertOnly       []byte
	combined, ecCombo []byte
}

var pems = sync.OnceValues(func() (testPEMs, error) {
	var p testPEMs
	selfSigned := func(pub, priv any) ([]byte, error) {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "mdegate test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			IsCA:         true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return p, err
	}
	if p.rsaCert, err = selfSigned(&k.PublicKey, k); err != nil {
		return p, err
	}
	p.rsaKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	k2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return p, err
	}
	p.otherKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k2)})
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	if p.ecCert, err = selfSigned(&ek.PublicKey, ek); err != nil {
		return p, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		return p, err
	}
	p.ecKey = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	p.combined = append(append([]byte{}, p.rsaCert...), p.rsaKey...)
	p.ecCombo = append(append([]byte{}, p.ecCert...), p.ecKey...)
	return p, nil
})

func testPEM(t *testing.T) testPEMs {
	t.Helper()
	p, err := pems()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParseConfigProblems checks that each problem is reported with its key and line.
func TestParseConfigProblems(t *testing.T) {
	// An app without a credential would take it from here (workload identity): not in these
	// cases, even when the tests run in such a pod.
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	p := testPEM(t)
	tests := []struct {
		name  string
		yaml  string            // @DIR@ is replaced by a temporary directory
		files map[string][]byte // written into @DIR@ first
		want  []string          // substrings of the error, each "line N: key: message"
		not   []string          // substrings the error must not have
	}{
		// listen
		{name: "listen empty", yaml: `listen: ""` + "\n" + minimal,
			want: []string{`line 1: listen: is empty; want host:port or unix:/path (e.g. 127.0.0.1:8080)`}},
		{name: "listen not host:port", yaml: "listen: localhost\n" + minimal,
			want: []string{`line 1: listen: is not host:port or unix:/path`}},
		{name: "listen bad port", yaml: "listen: 127.0.0.1:http\n" + minimal,
			want: []string{`line 1: listen: the port is not a number from 0 to 65535`}},
		{name: "listen relative unix socket", yaml: "listen: unix:mdegate.sock\n" + minimal,
			want: []string{`line 1: listen: the socket path must be absolute`}},
		{name: "admin_listen not host:port", yaml: "admin_listen: localhost\n" + minimal,
			want: []string{`line 1: admin_listen: is not host:port or unix:/path`}},
		{name: "admin_listen same as listen", yaml: "listen: 127.0.0.1:8080\nadmin_listen: 127.0.0.1:8080\n" + minimal,
			want: []string{`line 2: admin_listen: is also listen`}},
		{name: "shutdown_timeout negative", yaml: "shutdown_timeout: -1s\n" + minimal,
			want: []string{`line 1: shutdown_timeout: -1s is negative`}},
		{name: "shutdown_timeout not a duration", yaml: "shutdown_timeout: soon\n" + minimal,
			want: []string{`line 1: shutdown_timeout: expected a duration such as 30s or 5m`}},
		{name: "watch_config not a bool", yaml: "watch_config: maybe\n" + minimal,
			want: []string{`line 1: watch_config: expected true or false`}},

		// log
		{name: "log level and format", yaml: lines("log:", "  level: verbose", "  format: text") + minimal,
			want: []string{
				`line 2: log.level: "verbose" is not a log level (want debug, info, warn, error)`,
				`line 3: log.format: "text" is not a log format (want json, console)`,
			}},

		// cloud
		{name: "unknown cloud", yaml: lines("cloud:", "  name: mars") + minimal,
			want: []string{`line 2: cloud.name: "mars" is not a known cloud (known: dod, gcc, gcc-high, public)`},
			// Without a region table there is nothing to check regions against.
			not: []string{"is not a region"}},
		{name: "login endpoint not https", yaml: lines("cloud:", "  login_endpoint: http://127.0.0.1:9443") + minimal,
			want: []string{`line 2: cloud.login_endpoint: is not an https URL`}},
		{name: "login endpoint with path", yaml: lines("cloud:", "  login_endpoint: https://127.0.0.1:9443/common") + minimal,
			want: []string{`line 2: cloud.login_endpoint: must not have a path`}},
		{name: "login endpoint with user info is redacted", yaml: lines("cloud:", "  login_endpoint: https://u:pw-1234@login.example") + minimal,
			want: []string{`line 2: cloud.login_endpoint: must not contain user info`},
			not:  []string{"pw-1234"}},
		{name: "ca file missing", yaml: lines("cloud:", "  ca_file: @DIR@/nope.pem") + minimal,
			want: []string{`line 2: cloud.ca_file: cannot read @DIR@/nope.pem: no such file or directory`}},
		{name: "ca file without certificates", yaml: lines("cloud:", "  ca_file: @DIR@/ca.pem") + minimal,
			files: map[string][]byte{"ca.pem": []byte("not a certificate\n")},
			want:  []string{`line 2: cloud.ca_file: @DIR@/ca.pem holds no PEM certificates`}},
		{name: "region not https", yaml: lines("cloud:", "  regions:", "    global: https://api.example", "    eu: http://eu.api.example") + minimal,
			want: []string{`line 4: cloud.regions.eu: is not an https URL`}},
		{name: "region with query", yaml: lines("cloud:", "  regions:", "    global: https://api.example?x=1") + minimal,
			want: []string{`line 3: cloud.regions.global: must not have a query or fragment`}},
		{name: "region empty", yaml: lines("cloud:", "  regions:", "    global: https://api.example", "    eu:") + minimal,
			want: []string{`line 4: cloud.regions.eu: is not an https URL`}},
		// Regression (issue 14, item 9): an invalid region name was repeated in its key.
		{name: "region name invalid", yaml: lines("cloud:", "  regions:", "    global: https://api.example", "    'S3cr3t~x': http://eu.api.example") + minimal,
			want: []string{`line 2: cloud.regions: has an invalid region name (use letters, digits, '.', '_' and '-')`},
			not:  []string{"S3cr3t"}},
		{name: "regions without global", yaml: lines("cloud:", "  regions:", "    eu: https://eu.api.example") + minimal,
			want: []string{`line 2: cloud.regions: has no "global" entry; it is required when regions are set`},
			// routing.region defaults to global; that is not reported a second time.
			not: []string{"routing.region"}},

		// app
		{name: "client id missing", yaml: lines("app:", "  client_secret: s3cret") + tenantsOnly,
			want: []string{`line 1: app.client_id: is required`}},
		{name: "client id not a GUID", yaml: lines("app:", "  client_id: my-app", "  client_secret: s3cret") + tenantsOnly,
			want: []string{`line 2: app.client_id: is not a GUID`}},
		{name: "no credential", yaml: lines("app:", "  client_id: "+clientID) + tenantsOnly,
			want: []string{`line 1: app: no credential: set client_secret, client_secret_file or certificate_file`}},
		{name: "federated and secret", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: s3cret", "  federated_token_file: @DIR@/token") + tenantsOnly,
			files: map[string][]byte{"token": []byte("a.b.c\n")},
			want:  []string{`line 1: app: client_secret and federated_token_file are both set; set exactly one credential`}},
		{name: "federated token file missing", yaml: lines("app:", "  client_id: "+clientID, "  federated_token_file: @DIR@/token") + tenantsOnly,
			want: []string{`line 3: app.federated_token_file: cannot read @DIR@/token: no such file or directory`}},
		{name: "bad roles and redirect URI", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: s3cret", "  roles: [Alert.Read.All, 'Machine.Read.All, x']", "  redirect_uri: http://example.com/cb") + tenantsOnly,
			want: []string{
				`line 4: app.roles[1]: is not a role name`,
				`line 5: app.redirect_uri: must be an https URL`,
			}},
		{name: "tenant app checked like the app", yaml: minimal + lines(
			"  - name: fabrikam",
			"    id: "+tenant2,
			"    app:",
			"      client_id: nope",
			"      client_secret_file: @DIR@/missing"),
			want: []string{
				`line 10: tenants[1].app.client_id: is not a GUID`,
				`line 11: tenants[1].app.client_secret_file: cannot read @DIR@/missing`,
			}},
		{name: "tenant app without credential", yaml: minimal + lines(
			"  - name: fabrikam",
			"    id: "+tenant2,
			"    app: {client_id: "+clientID+"}"),
			want: []string{`line 9: tenants[1].app: no credential`}},
		{name: "tenant app unknown key", yaml: minimal + lines(
			"  - name: fabrikam",
			"    id: "+tenant2,
			"    app: {client_id: "+clientID+", client_secert: x}"),
			want: []string{`line 9: unknown key "tenants[1].app.client_secert" (did you mean "client_secret"?)`}},
		{name: "no app at all", yaml: tenantsOnly,
			want: []string{
				"\n  app.client_id: is required",
				"\n  app: no credential: set client_secret, client_secret_file or certificate_file",
			}},
		{name: "two credentials", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: s3cret", "  client_secret_file: @DIR@/secret") + tenantsOnly,
			files: map[string][]byte{"secret": []byte("other\n")},
			want:  []string{`line 1: app: client_secret and client_secret_file are both set; set exactly one credential`}},
		{name: "three credentials", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: s3cret", "  client_secret_file: @DIR@/secret", "  certificate_file: @DIR@/cert.pem") + tenantsOnly,
			files: map[string][]byte{"secret": []byte("other\n"), "cert.pem": p.combined},
			want:  []string{`line 1: app: client_secret, client_secret_file and certificate_file are all set`}},
		{name: "secret file missing", yaml: lines("app:", "  client_id: "+clientID, "  client_secret_file: @DIR@/nope") + tenantsOnly,
			want: []string{`line 3: app.client_secret_file: cannot read @DIR@/nope: no such file or directory`}},
		{name: "secret file is a directory", yaml: lines("app:", "  client_id: "+clientID, "  client_secret_file: @DIR@") + tenantsOnly,
			want: []string{`line 3: app.client_secret_file: cannot read @DIR@: is a directory`}},
		{name: "secret file empty", yaml: lines("app:", "  client_id: "+clientID, "  client_secret_file: @DIR@/secret") + tenantsOnly,
			files: map[string][]byte{"secret": []byte(" \n")},
			want:  []string{`line 3: app.client_secret_file: @DIR@/secret is empty`}},
		{name: "secret blank", yaml: lines("app:", "  client_id: "+clientID, `  client_secret: "  "`) + tenantsOnly,
			want: []string{`line 3: app.client_secret: is blank`}},
		{name: "certificate file missing", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/nope.pem") + tenantsOnly,
			want: []string{`line 3: app.certificate_file: cannot read @DIR@/nope.pem: no such file or directory`}},
		{name: "certificate file not PEM", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/cert.pem") + tenantsOnly,
			files: map[string][]byte{"cert.pem": []byte("hello")},
			want:  []string{`line 3: app.certificate_file: @DIR@/cert.pem: not a PEM certificate and private key: no certificates found`}},
		{name: "certificate without key", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/cert.pem") + tenantsOnly,
			files: map[string][]byte{"cert.pem": p.rsaCert},
			want:  []string{`line 3: app.certificate_file: @DIR@/cert.pem: not a PEM certificate and private key: no private key found`}},
		{name: "certificate with a garbled key", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/cert.pem") + tenantsOnly,
			files: map[string][]byte{"cert.pem": append(append([]byte{}, p.rsaCert...), []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")...)},
			want:  []string{"line 3: app.certificate_file: @DIR@/cert.pem: not a PEM certificate and private key: could not decode private key"},
			not:   []string{"asn1"}},
		{name: "certificate with the wrong key", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/cert.pem") + tenantsOnly,
			files: map[string][]byte{"cert.pem": append(append([]byte{}, p.rsaCert...), p.otherKey...)},
			want:  []string{`line 3: app.certificate_file: @DIR@/cert.pem: key doesn't match any certificate`}},
		{name: "certificate with an EC key", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/cert.pem") + tenantsOnly,
			files: map[string][]byte{"cert.pem": p.ecCombo},
			want:  []string{`line 3: app.certificate_file: @DIR@/cert.pem: key must be an RSA key`}},
		{name: "app scope without .default", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: s3cret", "  scope: https://api.securitycenter.microsoft.com") + tenantsOnly,
			want: []string{`line 4: app.scope: must end in /.default`}},

		// routing
		{name: "tenant header invalid", yaml: lines("routing:", "  tenant_header: X Tenant") + minimal,
			want: []string{`line 2: routing.tenant_header: is not a valid HTTP header name`}},
		{name: "tenant header reserved", yaml: lines("routing:", "  tenant_header: authorization") + minimal,
			want: []string{`line 2: routing.tenant_header: "authorization" is a header the proxy itself sets or consumes`}},
		{name: "routing region unknown", yaml: lines("routing:", "  region: mars") + minimal,
			want: []string{`line 2: routing.region: "mars" is not a region of cloud public (valid: aea, au, eu, global, ina, swa, uk, us)`}},
		{name: "routing region not in replaced table", yaml: lines("cloud:", "  regions:", "    global: https://api.example", "routing:", "  region: eu") + minimal,
			want: []string{`line 5: routing.region: "eu" is not a region of cloud public (valid, from cloud.regions: global)`}},
		{name: "region named auto is reserved", yaml: lines("cloud:", "  regions:", "    global: https://api.example", "    auto: https://auto.example", "routing:", "  probe_interval: -1s") + minimal,
			want: []string{`line 4: cloud.regions.auto: "auto" is reserved: it means the nearest healthy region`,
				`line 6: routing.probe_interval: -1s is negative`}},
		{name: "limits", yaml: lines("limits:", "  shape: maybe", "  max_wait: -1s", "  families:", "    alert: {per_minute: 10}", "    machines: {per_minute: -2, per_hour: -3, timeout: -3s}", "    alerts: {per_minute: -1, per_hour: -1}") + minimal,
			want: []string{`line 2: limits.shape: expected true or false`,
				`line 3: limits.max_wait: -1s is negative`,
				`line 5: limits.families.alert: is not an API family (known: other, alerts,`,
				`line 6: limits.families.machines.per_minute: -2 is neither -1 (unlimited), 0 (the default) nor a count`,
				`line 6: limits.families.machines.per_hour: -3 is neither -1 (unlimited), 0 (the default) nor a count`,
				`line 6: limits.families.machines.timeout: -3s is negative`}},
		{name: "limits.redis", yaml: lines("limits:", "  shape: false", "  redis:", "    url: ftp://:pw-in-url@host/0", "    timeout: -1ms") + minimal,
			want: []string{`line 4: limits.redis.url: is not a redis:// or rediss:// URL`,
				`line 5: limits.redis.timeout: -1ms is negative`,
				`line 3: limits.redis: is set but limits.shape is false`}},
		{name: "limits.redis without url", yaml: lines("limits:", "  redis: {key_prefix: gw1:}") + minimal,
			want: []string{`line 2: limits.redis.url: is required (redis://host:6379/0)`}},
		{name: "sovereign cloud has only global", yaml: lines("cloud:", "  name: gcc-high", "routing:", "  region: us") + minimal,
			want: []string{`line 4: routing.region: "us" is not a region of cloud gcc-high (valid: global)`}},

		// tenants
		{name: "no tenants key", yaml: appOnly,
			want: []string{"\n  tenants: none configured; list at least one tenant"}},
		{name: "empty tenants list", yaml: appOnly + "tenants: []\n",
			want: []string{"line 4: tenants: none configured"}},
		{name: "tenant name and id missing", yaml: appOnly + lines("tenants:", "  - region: eu"),
			want: []string{
				`line 5: tenants[0].id: is required`,
				`line 5: tenants[0].name: is required`,
			}},
		{name: "tenant name invalid", yaml: appOnly + lines("tenants:", "  - name: con toso", "    id: "+tenantID),
			want: []string{`line 5: tenants[0].name: is invalid (use letters, digits, '.', '_' and '-')`}},
		{name: "tenant id not a GUID", yaml: appOnly + lines(
			"tenants:",
			"  - name: contoso",
			"    id: "+tenantID,
			"  - name: fabrikam",
			"    id: abc"),
			want: []string{`line 8: tenants[1].id: is not a GUID`},
			not:  []string{"not a domain"}},
		{name: "tenant id a domain", yaml: appOnly + lines("tenants:", "  - name: contoso", "    id: contoso.onmicrosoft.com"),
			want: []string{`line 6: tenants[0].id: is not a GUID (use the tenant ID, not a domain name)`}},
		{name: "tenant region unknown", yaml: appOnly + lines("tenants:", "  - name: contoso", "    id: "+tenantID, "    region: mars"),
			want: []string{`line 7: tenants[0].region: "mars" is not a region of cloud public (valid: aea, au, eu, global, ina, swa, uk, us)`}},
		{name: "duplicate names case-insensitive", yaml: appOnly + lines(
			"tenants:",
			"  - name: contoso",
			"    id: "+tenantID,
			"  - name: Contoso",
			"    id: "+tenant2),
			want: []string{`line 7: tenants[1].name: is also the name of tenants[0] (names are case-insensitive)`}},
		{name: "duplicate ids case-insensitive", yaml: appOnly + lines(
			"tenants:",
			"  - name: contoso",
			"    id: "+tenantID,
			"  - name: fabrikam",
			"    id: "+strings.ToUpper(tenantID)),
			want: []string{`line 8: tenants[1].id: is also the id of tenants[0]`}},
		{name: "name is another tenant's id", yaml: appOnly + lines(
			"tenants:",
			"  - name: contoso",
			"    id: "+tenantID,
			"  - name: "+strings.ToUpper(tenantID),
			"    id: "+tenant2),
			want: []string{`line 7: tenants[1].name: looks like a GUID; names must not, so they cannot be mistaken for tenant IDs (it is the id of tenants[0])`}},

		// the YAML itself
		{name: "unknown keys at every depth", yaml: lines(
			"lisen: 127.0.0.1:1",
			"cloud:",
			"  regions:",
			"    global: https://api.example",
			"  colour: blue",
			"app:",
			"  client_id: "+clientID,
			"  client_secret: s3cret",
			"tenants:",
			"  - name: contoso",
			"    id: "+tenantID,
			"    regoin: eu"),
			want: []string{
				`line 1: unknown key "lisen" (did you mean "listen"?)`,
				`line 5: unknown key "cloud.colour" (known: ca_file, graph, login_endpoint, name, regions)`,
				`line 12: unknown key "tenants[0].regoin" (did you mean "region"?)`,
			},
			// Region names are map keys, never unknown; unexported fields are not keys.
			not: []string{"cloud.regions.global", `"path"`}},
		{name: "unexported field is not a key", yaml: "path: /etc/x\n" + minimal,
			want: []string{`line 1: unknown key "path"`}},
		{name: "duplicate key", yaml: lines("app:", "  client_id: "+clientID, "  client_id: "+clientID, "  client_secret: s3cret") + tenantsOnly,
			want: []string{`line 3: app.client_id: duplicate key (first at line 2)`},
			// The first value stands, so the section is otherwise fine.
			not: []string{"already defined", "is required", "no credential"}},
		{name: "list where a string goes", yaml: "listen: [a, b]\n" + minimal,
			want: []string{`line 1: listen: expected a string, got a list`},
			not:  []string{"is empty", "cannot unmarshal"}},
		{name: "string where the tenant list goes", yaml: appOnly + "tenants: contoso\n",
			want: []string{`line 4: tenants: expected a list, got a single value`},
			not:  []string{"none configured"}},
		{name: "wrong-typed tenant keeps later indexes", yaml: appOnly + lines(
			"tenants:",
			"  - contoso",
			"  - name: fabrikam",
			"    id: abc"),
			want: []string{
				`line 5: tenants[0]: expected a mapping, got a single value`,
				`line 7: tenants[1].id: is not a GUID`,
			},
			not: []string{"tenants[0].name", "tenants[0].id"}},
		{name: "null tenant keeps later indexes", yaml: appOnly + lines(
			"tenants:",
			"  -",
			"  - name: fabrikam",
			"    id: abc"),
			want: []string{`line 5: tenants[0].id: is required`, `line 7: tenants[1].id: is not a GUID`}},
		{name: "mapping where the region URL goes", yaml: lines("cloud:", "  regions:", "    global: {url: https://api.example}") + minimal,
			want: []string{`line 3: cloud.regions.global: expected a string, got a mapping`}},
		// yaml.v3 reports the line of the mapping it was parsing, not of the stray key.
		{name: "bad tag on a string", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: !!int abc") + tenantsOnly,
			want: []string{`line 3: app.client_secret: expected a string, got a value whose !!int tag does not fit it`},
			// The rest of the file is still decoded.
			not: []string{"tenants", "cannot decode"}},
		{name: "syntax error", yaml: "app:\n  client_id: x\n client_secret: y\n",
			want: []string{`line 2: invalid YAML: did not find expected key`}},
		{name: "not a mapping", yaml: "- a\n- b\n",
			want: []string{`line 1: the file must be a YAML mapping, got a list`}},
		{name: "two documents", yaml: minimal + "---\nlisten: 127.0.0.1:1\n",
			want: []string{`line 7: only one YAML document is allowed`}},
		{name: "unset variable", yaml: lines("app:", "  client_id: ${MDEGATE_TEST_UNSET_ID}", "  client_secret: s3cret") + tenantsOnly,
			want: []string{`line 2: app.client_id: environment variable MDEGATE_TEST_UNSET_ID is not set`},
			// The value stays unusable; it is not judged a second time.
			not: []string{"not a GUID"}},
		{name: "two unset variables", yaml: lines("cloud:", "  login_endpoint: https://${MDEGATE_TEST_UNSET_A}:${MDEGATE_TEST_UNSET_B}") + minimal,
			want: []string{`line 2: cloud.login_endpoint: environment variables MDEGATE_TEST_UNSET_A and MDEGATE_TEST_UNSET_B are not set`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, dir, name, data)
			}
			text := strings.ReplaceAll(tt.yaml, "@DIR@", dir)
			_, err := parse(t, text)
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want problems %q\ninput:\n%s", tt.want, text)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			got := err.Error()
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "@DIR@", dir)
				if !strings.Contains(got, w) {
					t.Errorf("got %q,\nwant substring %q", got, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("got %q,\nwant no substring %q", got, n)
				}
			}
		})
	}
}

// TestParseConfigReportsEverything checks that one parse reports all problems, in line order.
func TestParseConfigReportsEverything(t *testing.T) {
	text := lines(
		"listen: nowhere",        // 1
		"log:",                   // 2
		"  level: loud",          // 3
		"cloud:",                 // 4
		"  name: mars",           // 5
		"app:",                   // 6
		"  client_id: x",         // 7
		"routing:",               // 8
		"  tenant_header: 'a b'", // 9
		"tenants:",               // 10
		"  - name: contoso",      // 11
		"    id: abc",            // 12
		"    extra: 1",           // 13
	)
	_, err := parse(t, text)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *Error", err)
	}
	want := []Problem{
		{Key: "listen", Line: 1},
		{Key: "log.level", Line: 3},
		{Key: "cloud.name", Line: 5},
		{Key: "app", Line: 6},
		{Key: "app.client_id", Line: 7},
		{Key: "routing.tenant_header", Line: 9},
		{Key: "tenants[0].id", Line: 12},
		{Key: "tenants[0].extra", Line: 13},
	}
	if len(ce.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
	for i, w := range want {
		if g := ce.Problems[i]; g.Key != w.Key || g.Line != w.Line {
			t.Errorf("problem %d: got %s (line %d), want %s (line %d)", i, g.Key, g.Line, w.Key, w.Line)
		}
	}
	if got, want := err.Error(), "config mdegate.yaml: 8 problems:\n  line 1: listen: "; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Path: "mdegate.yaml", Problems: []Problem{
		{Key: "tenants[1].id", Line: 12, Msg: `"abc" is not a GUID`},
		{Key: "tenants", Msg: "none configured"},
		{Key: "tenants[0].regoin", Line: 9, Msg: `unknown key "tenants[0].regoin"`},
	}}
	sortProblems(e.Problems)
	want := "config mdegate.yaml: 3 problems:\n" +
		"  tenants: none configured\n" +
		"  line 9: unknown key \"tenants[0].regoin\"\n" +
		"  line 12: tenants[1].id: \"abc\" is not a GUID"
	if got := e.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	one := &Error{Problems: []Problem{{Msg: "invalid YAML: x"}}}
	if got, want := one.Error(), "config: 1 problem:\n  invalid YAML: x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestParseConfigNeverEchoesSecrets feeds broken app sections that hold a recognisable secret,
// in every place a parser or validator might quote it.
func TestParseConfigNeverEchoesSecrets(t *testing.T) {
	const secret = "Zm9vU2VjcmV0TWFya2Vy" // valid base64, so it survives PEM decoding too
	p := testPEM(t)
	tests := []struct {
		name  string
		yaml  string
		files map[string][]byte
	}{
		{name: "secret in a list", yaml: lines(
			"app:",
			"  client_id: [not, a, guid]",
			"  client_secret: ["+secret+"]",
			"  client_secret_file: /nonexistent/secret",
			"  clientsecret: x")},
		{name: "secret as the app section", yaml: "app: " + secret + "\n"},
		{name: "secret as a mapping value", yaml: lines("app:", "  client_secret: {value: "+secret+"}")},
		{name: "secret with a wrong tag", yaml: lines("app:", "  client_id: 42", "  client_secret: !!int "+secret)},
		{name: "secret with a bool tag", yaml: lines("app:", "  client_secret: !!bool "+secret)},
		{name: "secret with every credential", yaml: lines(
			"app:",
			"  client_id: nope",
			"  client_secret: "+secret,
			"  client_secret_file: @DIR@/secret",
			"  certificate_file: @DIR@/cert.pem",
			"  scope: nope"),
			files: map[string][]byte{"secret": []byte(secret + "\n"), "cert.pem": []byte("-----BEGIN CERTIFICATE-----\n" + secret + "\n-----END CERTIFICATE-----\n")}},
		{name: "secret in a key block", yaml: lines("app:", "  client_id: "+clientID, "  certificate_file: @DIR@/cert.pem"),
			files: map[string][]byte{"cert.pem": append(append([]byte{}, p.rsaCert...),
				[]byte("-----BEGIN RSA PRIVATE KEY-----\n"+secret+"\n-----END RSA PRIVATE KEY-----\n")...)}},
		{name: "secret in a blank-looking file", yaml: lines("app:", "  client_id: "+clientID, "  client_secret_file: @DIR@/secret", "  client_secret: ' '"),
			files: map[string][]byte{"secret": []byte(secret)}},
		{name: "secret through an unset variable", yaml: lines("app:", "  client_secret: "+secret+"${MDEGATE_TEST_UNSET}")},
		// limits.redis.url may carry Redis's password.
		{name: "redis password, bad db", yaml: lines("limits:", "  redis: {url: 'redis://:"+secret+"@host:6379/x'}")},
		{name: "redis password, bad url", yaml: lines("limits:", "  redis: {url: 'redis://:"+secret+"@ho st\x7f:1/0'}")},
		{name: "redis password, bad scheme", yaml: lines("limits:", "  redis: {url: 'http://:"+secret+"@host/0'}")},
		{name: "redis password in a list", yaml: lines("limits:", "  redis: {url: [redis://:"+secret+"@host/0]}")},
		{name: "redis password, wrong tag", yaml: lines("limits:", "  redis: {url: !!int redis://:"+secret+"@host/0}")},
		// Issue 14 item 9: config errors echoed secrets pasted in the wrong place.
		{name: "redis password after the slash", yaml: lines("limits:", "  redis: {url: 'redis://host:6379/"+secret+"'}")},
		{name: "redis password in a query value", yaml: lines("limits:", "  redis: {url: 'redis://host:6379/0?dial_timeout="+secret+"'}")},
		{name: "redis password as a query option", yaml: lines("limits:", "  redis: {url: 'redis://host:6379/0?"+secret+"=1'}")},
		{name: "secret pasted as a key", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: x", "  "+secret+": x")},
		{name: "secret pasted as a top-level key", yaml: secret + ": x\n" + minimal},
		{name: "secret pasted into client_id", yaml: lines("app:", "  client_id: "+secret, "  client_secret: x")},
		{name: "secret pasted into a tenant id", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: x", "tenants:", "  - {name: fabrikam, id: "+secret+"}")},
		{name: "secret pasted into scope and roles", yaml: lines("app:", "  client_id: "+clientID, "  client_secret: x", "  scope: "+secret, "  roles: ['"+secret+" x']")},
		{name: "secret in a login endpoint", yaml: lines("cloud:", "  login_endpoint: 'https://login.example/?key="+secret+"'")},
		{name: "secret in an unparsable URL", yaml: lines("public_url: 'https://" + secret + "\x7f:x'")},
		{name: "secret in listen", yaml: lines("listen: " + secret)},
		{name: "secret in a trusted proxy", yaml: lines("trusted_proxies: [" + secret + "]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, dir, name, data)
			}
			_, err := parse(t, strings.ReplaceAll(tt.yaml, "@DIR@", dir)+tenantsOnly)
			if err == nil {
				t.Fatal("ParseConfig succeeded, want problems")
			}
			got := err.Error()
			for _, s := range []string{secret, secret[:7], "fooSecretMarker"} {
				if strings.Contains(got, s) {
					t.Errorf("got %q, which contains the secret %q", got, s)
				}
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg := mustParse(t, lines(
		"app:",
		"  client_id: "+clientID,
		"  client_secret: s3cret",
		"tenants:",
		"  - name: Contoso",
		"    id: "+strings.ToUpper(tenantID),
		"  - name: fabrikam",
		"    id: "+tenant2,
		"    region: eu",
	))
	checks := []struct{ name, got, want string }{
		{"listen", cfg.Listen, "127.0.0.1:8080"},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, ""}, // unset: console on a terminal, else json
		{"cloud.name", cfg.Cloud.Name, "public"},
		{"resolved login endpoint", cfg.Resolved.Cloud.LoginEndpoint, "https://login.microsoftonline.com"},
		{"resolved global region", cfg.Resolved.Cloud.Regions["global"], "https://api.security.microsoft.com"},
		{"resolved eu region", cfg.Resolved.Cloud.Regions["eu"], "https://eu.api.security.microsoft.com"},
		{"app.scope", cfg.App.Scope, "https://api.securitycenter.microsoft.com/.default"},
		{"secret", cfg.Resolved.App.Secret, "s3cret"},
		{"routing.tenant_header", cfg.Routing.TenantHeader, "X-Tenant-ID"},
		{"routing.region", cfg.Routing.Region, "global"},
		{"tenants[0].name", cfg.Tenants[0].Name, "Contoso"}, // names keep their case
		{"tenants[0].id", cfg.Tenants[0].ID, tenantID},      // IDs are lowercased
		{"tenants[0].region", cfg.Tenants[0].Region, ""},
		{"tenants[1].region", cfg.Tenants[1].Region, "eu"},
		{"path", cfg.Name, "mdegate.yaml"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Resolved.CAPEM != nil || cfg.Resolved.App.Certs != nil || cfg.Resolved.App.Key != nil {
		t.Errorf("got caPEM/certs/key set without files")
	}
}

func TestParseConfigEmptyValuesMeanDefaults(t *testing.T) {
	cfg := mustParse(t, lines(
		"log: {level: '', format: ''}",
		"cloud:",
		"  name: ''",
		"  regions: {}",
		"routing:",
		"  tenant_header: ''",
		"  region:",
	)+minimal)
	if cfg.Log.Level != "info" || cfg.Log.Format != "" || cfg.Cloud.Name != "public" ||
		cfg.Routing.TenantHeader != "X-Tenant-ID" || cfg.Routing.Region != "global" {
		t.Errorf("got %+v %+v %q, want the defaults", cfg.Log, cfg.Routing, cfg.Cloud.Name)
	}
	if got := len(cfg.Resolved.Cloud.Regions); got != 8 {
		t.Errorf("got %d regions, want the built-in 8 (an empty regions map replaces nothing)", got)
	}
}

func TestParseConfigOverrides(t *testing.T) {
	cfg := mustParse(t, lines(
		"listen: unix:/run/mdegate.sock",
		"log: {level: debug, format: console}",
		"cloud:",
		"  name: gcc-high",
		"  login_endpoint: https://127.0.0.1:9443/",
		"  regions:",
		"    global: https://127.0.0.1:9444/",
		"    lab: https://127.0.0.1:9445/mde",
		"app:",
		"  client_id: "+strings.ToUpper(clientID),
		"  client_secret: s3cret",
		"  scope: api://mde-emulator/.default",
		"routing:",
		"  tenant_header: X-MDE-Tenant",
		"  region: lab",
		"tenants:",
		"  - name: contoso",
		"    id: "+tenantID,
		"    region: global",
	))
	c := cfg.Resolved.Cloud
	if c.Name != "gcc-high" || c.LoginEndpoint != "https://127.0.0.1:9443" {
		t.Errorf("got cloud %q at %q, want gcc-high at https://127.0.0.1:9443", c.Name, c.LoginEndpoint)
	}
	if len(c.Regions) != 2 || c.Regions["global"] != "https://127.0.0.1:9444" || c.Regions["lab"] != "https://127.0.0.1:9445/mde" {
		t.Errorf("got regions %v, want exactly global and lab without trailing slashes", c.Regions)
	}
	if cfg.App.Scope != "api://mde-emulator/.default" {
		t.Errorf("got scope %q, want the configured one", cfg.App.Scope)
	}
	if c.Scope != "https://api-gov.securitycenter.microsoft.us/.default" {
		t.Errorf("got cloud scope %q, want the built-in one", c.Scope)
	}
}

func TestParseConfigEnvExpansion(t *testing.T) {
	t.Setenv("MDEGATE_TEST_SECRET", "from-env")
	t.Setenv("MDEGATE_TEST_HOST", "127.0.0.1")
	t.Setenv("MDEGATE_TEST_PORT", "9090")
	t.Setenv("MDEGATE_TEST_REF", "${MDEGATE_TEST_SECRET}")
	t.Setenv("MDEGATE_TEST_EMPTY", "")
	tests := []struct {
		name, value, want string
	}{
		{"whole value", "${MDEGATE_TEST_SECRET}", "from-env"},
		{"quoted", `"${MDEGATE_TEST_SECRET}"`, "from-env"},
		{"inside text", "a-${MDEGATE_TEST_SECRET}-b", "a-from-env-b"},
		{"two variables", "${MDEGATE_TEST_HOST}:${MDEGATE_TEST_PORT}", "127.0.0.1:9090"},
		{"a lone dollar stays", "pa$$w0rd$", "pa$$w0rd$"},
		{"only the braced form", "$MDEGATE_TEST_SECRET", "$MDEGATE_TEST_SECRET"},
		{"not a name", "${NOT A NAME}x", "${NOT A NAME}x"},
		{"no second round", "${MDEGATE_TEST_REF}", "${MDEGATE_TEST_SECRET}"},
		{"set but empty", "x${MDEGATE_TEST_EMPTY}y", "xy"},
		{"looks like a number", "${MDEGATE_TEST_PORT}", "9090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, lines("app:", "  client_id: "+clientID, "  client_secret: "+tt.value)+tenantsOnly)
			if cfg.App.ClientSecret != tt.want || cfg.Resolved.App.Secret != tt.want {
				t.Errorf("got %q (resolved %q), want %q", cfg.App.ClientSecret, cfg.Resolved.App.Secret, tt.want)
			}
		})
	}

	t.Run("keys are not expanded", func(t *testing.T) {
		t.Setenv("MDEGATE_TEST_KEY", "listen")
		_, err := parse(t, "${MDEGATE_TEST_KEY}: 127.0.0.1:1\n"+minimal)
		// Not named: it does not look like a key (issue 14 item 9: a pasted secret would not).
		if want := `line 1: an unknown key`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want substring %q", err, want)
		}
	})
	t.Run("every string value", func(t *testing.T) {
		t.Setenv("MDEGATE_TEST_NAME", "contoso")
		t.Setenv("MDEGATE_TEST_TENANT", tenantID)
		cfg := mustParse(t, lines(
			"listen: ${MDEGATE_TEST_HOST}:${MDEGATE_TEST_PORT}",
			"tenants:",
			"  - name: ${MDEGATE_TEST_NAME}",
			"    id: ${MDEGATE_TEST_TENANT}",
		)+appOnly)
		if cfg.Listen != "127.0.0.1:9090" || cfg.Tenants[0].Name != "contoso" || cfg.Tenants[0].ID != tenantID {
			t.Errorf("got listen %q and tenant %+v, want them expanded", cfg.Listen, cfg.Tenants[0])
		}
	})
}

func TestParseConfigSecretFile(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, content string }{
		{"trailing newline", "s3cret\n"},
		{"windows newline", "s3cret\r\n"},
		{"no newline", "s3cret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, dir, "secret", []byte(tt.content))
			cfg := mustParse(t, lines("app:", "  client_id: "+clientID, "  client_secret_file: "+f)+tenantsOnly)
			if cfg.Resolved.App.Secret != "s3cret" {
				t.Errorf("got %q, want %q", cfg.Resolved.App.Secret, "s3cret")
			}
		})
	}
}

func TestParseConfigCertificate(t *testing.T) {
	p := testPEM(t)
	dir := t.TempDir()
	cert := writeFile(t, dir, "app.pem", p.combined)
	ca := writeFile(t, dir, "ca.pem", p.rsaCert)
	cfg := mustParse(t, lines(
		"cloud:",
		"  ca_file: "+ca,
		"app:",
		"  client_id: "+clientID,
		"  certificate_file: "+cert,
	)+tenantsOnly)
	if len(cfg.Resolved.App.Certs) != 1 || cfg.Resolved.App.Key == nil {
		t.Fatalf("got %d certificates and key %T, want 1 and an RSA key", len(cfg.Resolved.App.Certs), cfg.Resolved.App.Key)
	}
	if got := cfg.Resolved.App.Certs[0].Subject.CommonName; got != "mdegate test" {
		t.Errorf("got certificate %q, want %q", got, "mdegate test")
	}
	if cfg.Resolved.App.Secret != "" {
		t.Errorf("got secret %q, want none", cfg.Resolved.App.Secret)
	}
	if string(cfg.Resolved.CAPEM) != string(p.rsaCert) {
		t.Errorf("got caPEM of %d bytes, want the CA file's %d", len(cfg.Resolved.CAPEM), len(p.rsaCert))
	}
}

func TestParseConfigAliases(t *testing.T) {
	cfg := mustParse(t, appOnly+lines(
		"tenants:",
		"  - &contoso",
		"    name: contoso",
		"    id: "+tenantID,
		"    region: eu",
		"  - <<: *contoso",
		"    name: fabrikam",
		"    id: "+tenant2,
	))
	if len(cfg.Tenants) != 2 || cfg.Tenants[1].Region != "eu" || cfg.Tenants[1].Name != "fabrikam" {
		t.Errorf("got %+v, want fabrikam to inherit region eu", cfg.Tenants)
	}

	// A merge contributes keys, so they are checked as well.
	_, err := parse(t, appOnly+lines(
		"tenants:",
		"  - &base",
		"    name: contoso",
		"    id: "+tenantID,
		"    regoin: eu",
		"  - <<: *base",
		"    name: fabrikam",
		"    id: "+tenant2,
	))
	if want := `unknown key "tenants[0].regoin"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want substring %q", err, want)
	}
}

func TestParseConfigEmpty(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "---\n", "~\n"} {
		_, err := parse(t, text)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("input %q: got %v, want a *Error", text, err)
		}
		// Defaults apply; what has no default is missing.
		var keys []string
		for _, p := range ce.Problems {
			keys = append(keys, p.Key)
		}
		if got, want := strings.Join(keys, " "), "app app.client_id tenants"; got != want {
			t.Errorf("input %q: got problems with keys %q, want %q:\n%v", text, got, want, err)
		}
	}
}

// TestConfigCheck covers a Config built in code, as tools do: zero values take the
// defaults, and Resolved.CAPEM set directly is kept.
func TestConfigCheck(t *testing.T) {
	cfg := Config{
		Listen:   "127.0.0.1:0",
		Cloud:    CloudConfig{LoginEndpoint: "https://127.0.0.1:9443", Regions: map[string]string{"global": "https://127.0.0.1:9444"}},
		App:      AppConfig{ClientID: clientID, ClientSecret: "s3cret"},
		Tenants:  []TenantConfig{{Name: "contoso", ID: strings.ToUpper(tenantID)}},
		Resolved: Resolved{CAPEM: []byte("pem")},
	}
	if err := cfg.Check(); err != nil {
		t.Fatalf("got problems %v, want none", err)
	}
	if cfg.Resolved.Cloud.LoginEndpoint != "https://127.0.0.1:9443" || cfg.Resolved.Cloud.Regions["global"] != "https://127.0.0.1:9444" ||
		string(cfg.Resolved.CAPEM) != "pem" || cfg.Resolved.App.Secret != "s3cret" || cfg.Tenants[0].ID != tenantID ||
		cfg.Routing.TenantHeader != "X-Tenant-ID" || cfg.App.Scope != "https://api.securitycenter.microsoft.com/.default" {
		t.Errorf("got %+v, want defaults filled in and overrides applied", cfg)
	}

	var empty Config
	err := empty.Check()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want an *Error", err)
	}
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "listen app.client_id app tenants"; got != want {
		t.Errorf("got problems with keys %q, want %q", got, want)
	}
}

func TestLoadConfig(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
	}

	f := writeFile(t, t.TempDir(), "mdegate.yaml", []byte("listen: ''\n"+minimal))
	_, _, err = Load(f)
	if want := "config " + f + ": 1 problem:\n  line 1: listen: is empty"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want prefix %q", err, want)
	}
}

// TestConfigExample keeps config.example.yaml parseable.
func TestConfigExample(t *testing.T) {
	t.Setenv("MDEGATE_CLIENT_SECRET", "example-secret")
	cfg, _, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tenants) != 2 {
		t.Errorf("got %d tenants, want 2", len(cfg.Tenants))
	}
	if cfg.Resolved.App.Secret != "example-secret" {
		t.Errorf("got secret %q, want it from MDEGATE_CLIENT_SECRET", cfg.Resolved.App.Secret)
	}
}

// The token endpoint and the proxy mode (issue 16): defaults, and what check-config says.
func TestTokenEndpointAndIntercept(t *testing.T) {
	base := "app: {client_id: 00000000-0000-0000-0000-000000000001, client_secret: s}\ntenants:\n  - {name: contoso, id: 00000000-0000-0000-0000-0000000000c0}\n"
	cfg, err := Parse(strings.NewReader(base+"token_endpoint: {enabled: true}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.TokenEndpoint.TokenLifetime(); got != time.Hour {
		t.Errorf("lifetime %v, want 1h", got)
	}
	if cfg.Intercept.Enabled() || !slices.Equal(cfg.Intercept.PassthroughHosts(), DefaultPassthrough) {
		t.Errorf("intercept enabled %v passthrough %v", cfg.Intercept.Enabled(), cfg.Intercept.PassthroughHosts())
	}
	dir := t.TempDir()
	ca, err := intercept.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	withCA := fmt.Sprintf("intercept: {ca_cert_file: %q, ca_key_file: %q}\n", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	for _, tc := range []struct{ yaml, want string }{
		{withCA, "intercept: needs token_endpoint.enabled: true"},
		{"token_endpoint: {enabled: true, lifetime: 25h}\n", "token_endpoint.lifetime: 25h0m0s is out of range"},
		{"token_endpoint: {enabled: true, signing_key_file: /nonexistent/key.pem}\n", "token_endpoint.signing_key_file: signing key"},
		{"token_endpoint: {enabled: true}\nintercept: {ca_cert_file: x.pem}\n", "intercept.ca_key_file: is required"},
		{"token_endpoint: {enabled: true}\n" + strings.TrimSuffix(withCA, "}\n") + ", passthrough: [\"a b\"]}\n", "intercept.passthrough[0]: is not a host, host:port or *.domain pattern"},
	} {
		_, err := Parse(strings.NewReader(base+tc.yaml), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
	// Regression (issue 14, item 9): the passthrough problem quoted the pattern, which may be
	// a secret pasted in the wrong place.
	_, err = Parse(strings.NewReader(base+"token_endpoint: {enabled: true}\n"+strings.TrimSuffix(withCA, "}\n")+", passthrough: [\"s3cr3t value\"]}\n"), "t.yaml")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("got %v, want a refusal that does not repeat the pattern", err)
	}
	cfg, err = Parse(strings.NewReader(base+"token_endpoint: {enabled: true}\n"+withCA), "t.yaml")
	if err != nil || cfg.Resolved.InterceptCA == nil {
		t.Errorf("a good intercept section: %v", err)
	}
}
