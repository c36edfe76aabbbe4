package config

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// AppConfig is the partner's multi-tenant Entra application, used for client-credentials
// tokens in every customer tenant. Exactly one of ClientSecret, ClientSecretFile,
// CertificateFile and FederatedTokenFile must be set; when none is, FederatedTokenFile is
// taken from $AZURE_FEDERATED_TOKEN_FILE (AKS workload identity) if that is set.
type AppConfig struct {
	// ClientID is the application (client) ID, a GUID. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the client secret itself, usually "${SOME_ENV_VAR}". Surrounding
	// whitespace is trimmed. Unset: use ClientSecretFile or CertificateFile.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile is a file holding the client secret; surrounding whitespace (such as the
	// trailing newline) is trimmed and the content is never ${VAR}-expanded. Unset: use
	// ClientSecret or CertificateFile.
	ClientSecretFile string `yaml:"client_secret_file"`
	// CertificateFile is an unencrypted PEM file holding the certificate (chain) registered on
	// the app and its RSA private key. Unset: use ClientSecret or ClientSecretFile.
	CertificateFile string `yaml:"certificate_file"`
	// FederatedTokenFile is a file holding a token from an identity provider the app trusts
	// through a federated credential (AKS workload identity, GitHub, another cloud). It is
	// re-read on every token request, so a rotated file is picked up; its content is sent as
	// the client assertion and never logged. Unset: $AZURE_FEDERATED_TOKEN_FILE when no
	// other credential is set, else no federated credential.
	FederatedTokenFile string `yaml:"federated_token_file"`
	// Scope is the scope tokens are requested for; it must end in /.default. Unset: the
	// cloud's, e.g. https://api.securitycenter.microsoft.com/.default for public.
	Scope string `yaml:"scope"`
	// Roles are the application permissions the app was granted (e.g. Alert.Read.All), that
	// `mdegate token` and `mdegate check` expect in every tenant's token. Unset: nothing is
	// expected, and a token without any role is flagged.
	Roles []string `yaml:"roles"`
	// RedirectURI is a reply URL registered on the app, where Entra sends the customer's
	// admin after consenting; `mdegate consent-url` puts it in the links. Unset: the links
	// have none and Entra uses the app's default reply URL.
	RedirectURI string `yaml:"redirect_uri"`
}

// Credential is an app's credential as resolved from its keys and the files they name. At
// most one of Secret, Key and FederatedTokenFile is in use (Secret first, then Key).
type Credential struct {
	// Secret is the client secret, trimmed; "" when the app uses no secret.
	Secret string
	// Certs is certificate_file's chain; nil when unset.
	Certs []*x509.Certificate
	// Key is certificate_file's private key; nil when unset.
	Key crypto.PrivateKey
	// FederatedTokenFile is the file read (with ReadAssertion) on every token request; "" when
	// unused.
	FederatedTokenFile string
}

// Identity names an app and its credential, so that tenants sharing both share one token
// source. A secret is represented by its hash: the key may be printed by a debugger.
func (a *AppConfig) Identity(cr Credential) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(a.ClientID))
	b.WriteString("|")
	b.WriteString(a.Scope)
	switch {
	case cr.Secret != "":
		sum := sha256.Sum256([]byte(cr.Secret))
		b.WriteString("|secret:" + hex.EncodeToString(sum[:8]))
	case cr.Key != nil:
		sum := sha256.Sum256(cr.Certs[0].Raw)
		b.WriteString("|cert:" + hex.EncodeToString(sum[:8]))
	case cr.FederatedTokenFile != "":
		b.WriteString("|federated:" + cr.FederatedTokenFile)
	}
	return b.String()
}

// AppOf returns the app that serves tenant t: its override, or the top-level app. Its
// credential is Resolved.TenantApps[i] for an override of tenants[i], else Resolved.App.
func (c *Config) AppOf(t TenantConfig) *AppConfig {
	if t.App != nil {
		return t.App
	}
	return &c.App
}

// defaultFederated applies $AZURE_FEDERATED_TOKEN_FILE (set by AKS workload identity) to every
// app, top-level or per tenant, that names no credential at all. envFile is the variable's
// value ("" when unset).
func (c *Config) defaultFederated(envFile string) {
	if envFile == "" {
		return
	}
	c.App.defaultFederated(envFile)
	for _, t := range c.Tenants {
		if t.App != nil {
			t.App.defaultFederated(envFile)
		}
	}
}

func (a *AppConfig) defaultFederated(envFile string) {
	if a.ClientSecret == "" && a.ClientSecretFile == "" && a.CertificateFile == "" && a.FederatedTokenFile == "" {
		a.FederatedTokenFile = envFile
	}
}

// resolve reads the files the app names; key is the app's YAML path ("app" or
// "tenants[2].app"). Messages name the key and the path, never the content.
func (a *AppConfig) resolve(key string, ps *problems) Credential {
	var cr Credential
	if s := a.ClientSecret; s != "" {
		cr.Secret = strings.TrimSpace(s) // validate reports a blank secret
	}
	if f := a.ClientSecretFile; f != "" {
		data, err := os.ReadFile(f)
		switch {
		case err != nil:
			ps.add(key+".client_secret_file", "cannot read %s: %s", f, fileErr(err))
		case strings.TrimSpace(string(data)) == "":
			ps.add(key+".client_secret_file", "%s is empty", f)
		case cr.Secret == "":
			cr.Secret = strings.TrimSpace(string(data))
		}
	}
	if f := a.CertificateFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			ps.add(key+".certificate_file", "cannot read %s: %s", f, fileErr(err))
		} else if certs, k, err := confidential.CertFromPEM(data, ""); err != nil {
			// CertFromPEM's errors describe the structure ("no private key found"), not the
			// bytes; the asn1 details that may follow say nothing useful to an operator.
			msg, _, _ := strings.Cut(err.Error(), ": asn1:")
			ps.add(key+".certificate_file", "%s: not a PEM certificate and private key: %s", f, msg)
		} else if _, err := confidential.NewCredFromCert(certs, k); err != nil {
			ps.add(key+".certificate_file", "%s: %v", f, err)
		} else {
			cr.Certs, cr.Key = certs, k
		}
	}
	// The federated token file is only checked here; it is read again on every token request
	// (it rotates), so that a file that appears a little after start is no reason to refuse.
	if f := a.FederatedTokenFile; f != "" {
		if _, err := ReadAssertion(f); err != nil {
			ps.add(key+".federated_token_file", "%v", err)
		}
		if cr.Secret == "" && cr.Key == nil {
			cr.FederatedTokenFile = f
		}
	}
	return cr
}

// validate checks the app's values; key is its YAML path. It reads no files.
func (a *AppConfig) validate(key string, ps *problems) {
	switch id := a.ClientID; {
	case id == "":
		ps.add(key+".client_id", "is required (the application (client) ID of the Entra app, a GUID)")
	case !isGUID(id):
		ps.add(key+".client_id", "is not a GUID") // not quoted: a secret may have been pasted here
	}
	var creds []string
	for _, cr := range []struct{ key, value string }{
		{"client_secret", a.ClientSecret},
		{"client_secret_file", a.ClientSecretFile},
		{"certificate_file", a.CertificateFile},
		{"federated_token_file", a.FederatedTokenFile},
	} {
		if cr.value != "" {
			creds = append(creds, cr.key)
		}
	}
	switch len(creds) {
	case 0:
		ps.add(key, "no credential: set client_secret, client_secret_file or certificate_file (or federated_token_file, or AZURE_FEDERATED_TOKEN_FILE in the environment)")
	case 1:
	default:
		both := "both"
		if len(creds) > 2 {
			both = "all"
		}
		ps.add(key, "%s are %s set; set exactly one credential", joinAnd(creds), both)
	}
	if a.ClientSecret != "" && strings.TrimSpace(a.ClientSecret) == "" {
		ps.add(key+".client_secret", "is blank")
	}
	if s := a.Scope; s != "" && !strings.HasSuffix(s, "/.default") {
		ps.add(key+".scope", "must end in /.default (client-credentials tokens are issued for a resource's .default scope)")
	}
	for i, r := range a.Roles {
		if r == "" || strings.ContainsAny(r, " \t,") {
			ps.add(fmt.Sprintf("%s.roles[%d]", key, i), "is not a role name (such as Alert.Read.All)")
		}
	}
	if u := a.RedirectURI; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://localhost") {
		ps.add(key+".redirect_uri", "must be an https URL (or http://localhost...), as Entra requires of reply URLs")
	}
}

// ReadAssertion reads a federated token file. Its errors name the file, never its content.
func ReadAssertion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %s", path, fileErr(err))
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
