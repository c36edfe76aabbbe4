package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// TLSConfig is the HTTPS listener: a static certificate (reloaded when its files change) or
// certificates obtained with ACME by certmagic, optionally requiring client certificates.
type TLSConfig struct {
	// Listen is where the HTTPS listener binds, host:port. Unset: no HTTPS listener (and the
	// other tls keys must be unset too).
	Listen string `yaml:"listen"`
	// CertFile is a PEM certificate (chain), and KeyFile its private key. They are re-read
	// when either file changes (checked at most every few seconds). Unset: ACME.
	CertFile string `yaml:"cert_file"`
	// KeyFile is CertFile's private key (PEM). Unset: ACME.
	KeyFile string `yaml:"key_file"`
	// ACME obtains and renews certificates automatically. Unset: CertFile and KeyFile.
	ACME ACMEConfig `yaml:"acme"`
	// ClientCAFile is a PEM file of CA certificates: when set, every caller must present a
	// certificate issued by one of them (mTLS). Unset: no client certificates are asked for.
	ClientCAFile string `yaml:"client_ca_file"`
}

// ACMEConfig is tls.acme.
type ACMEConfig struct {
	// Domains the certificate is for. Required to use ACME.
	Domains []string `yaml:"domains"`
	// Email is the ACME account's contact address. Unset: no contact.
	Email string `yaml:"email"`
	// CA is the ACME directory URL (https). Unset: Let's Encrypt's production directory.
	CA string `yaml:"ca"`
	// CARootFile is a PEM file of roots trusted for the ACME directory's own TLS, for a private
	// ACME CA (step-ca, Pebble). Unset: the system roots.
	CARootFile string `yaml:"ca_root_file"`
	// Storage is the directory where certificates, keys and the ACME account are kept; mount a
	// writable volume there. Required with ACME: certmagic's default under $HOME is never used,
	// so a read-only root filesystem works.
	Storage string `yaml:"storage"`
}

// UsesACME reports whether certificates come from ACME (tls.acme.domains is set).
func (t *TLSConfig) UsesACME() bool { return len(t.ACME.Domains) > 0 }

// resolve reads the CA files of the tls section and checks that a static pair loads.
func (t *TLSConfig) resolve(ps *problems) (clientCAs, acmeRoots *x509.CertPool) {
	readPool := func(key, f string) *x509.CertPool {
		data, err := os.ReadFile(f)
		if err != nil {
			ps.add(key, "cannot read %s: %s", f, fileErr(err))
			return nil
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			ps.add(key, "%s holds no PEM certificates", f)
			return nil
		}
		return pool
	}
	if t.ClientCAFile != "" {
		clientCAs = readPool("tls.client_ca_file", t.ClientCAFile)
	}
	if t.ACME.CARootFile != "" {
		acmeRoots = readPool("tls.acme.ca_root_file", t.ACME.CARootFile)
	}
	if t.CertFile != "" && t.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			ps.add("tls.cert_file", "%s and %s: %s", t.CertFile, t.KeyFile, fileErr(err))
		}
	}
	return clientCAs, acmeRoots
}

// validate checks the tls section's values.
func (t *TLSConfig) validate(ps *problems) {
	static := t.CertFile != "" || t.KeyFile != ""
	if t.Listen == "" {
		if static || t.UsesACME() || t.ClientCAFile != "" || t.ACME.Storage != "" {
			ps.add("tls.listen", "is required when the tls section is used (e.g. :8443)")
		}
		return
	}
	if msg := checkListen(t.Listen); msg != "" {
		ps.add("tls.listen", "%s", msg)
	} else if strings.HasPrefix(t.Listen, "unix:") {
		ps.add("tls.listen", "HTTPS needs host:port")
	}
	switch {
	case static && t.UsesACME():
		ps.add("tls", "both cert_file/key_file and acme.domains are set; use one")
	case !static && !t.UsesACME():
		ps.add("tls", "no certificate: set cert_file and key_file, or acme.domains")
	case static && (t.CertFile == "" || t.KeyFile == ""):
		ps.add("tls", "cert_file and key_file go together")
	}
	if t.UsesACME() {
		if t.ACME.Storage == "" {
			ps.add("tls.acme.storage", "is required with ACME: a writable directory for certificates and the account (never $HOME)")
		} else if !filepath.IsAbs(t.ACME.Storage) {
			ps.add("tls.acme.storage", "must be an absolute path")
		}
		if t.ACME.CA != "" {
			if msg := checkHTTPSURL(t.ACME.CA, true); msg != "" {
				ps.add("tls.acme.ca", "%s", msg)
			}
		}
		for i, d := range t.ACME.Domains {
			if d == "" || net.ParseIP(d) != nil || !namePattern.MatchString(d) {
				ps.add(fmt.Sprintf("tls.acme.domains[%d]", i), "is not a DNS name")
			}
		}
	}
}
