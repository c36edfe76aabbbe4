package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TLSConfig is the HTTPS listener: a static certificate (reloaded when its files change) or
// certificates obtained with ACME by certmagic, optionally requiring client certificates.
type TLSConfig struct {
	// Listen is where the HTTPS listener binds, host:port. Unset: no HTTPS listener (and the
	// other tls keys must be unset too).
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are a PEM certificate (chain) and its private key. They are
	// re-read when either file changes (checked at most every few seconds). Unset: ACME.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ACME obtains and renews certificates automatically. Unset: CertFile and KeyFile.
	ACME ACMEConfig `yaml:"acme"`
	// ClientCAFile is a PEM file of CA certificates: when set, every caller must present a
	// certificate issued by one of them (mTLS). Unset: no client certificates are asked for.
	ClientCAFile string `yaml:"client_ca_file"`

	clientCAs *x509.CertPool // resolved from ClientCAFile
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

	roots *x509.CertPool // resolved from CARootFile
}

func (t *TLSConfig) acme() bool { return len(t.ACME.Domains) > 0 }

// resolveTLS reads the CA files of the tls section and checks that a static pair loads.
func (c *Config) resolveTLS() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	readPool := func(key, f string) *x509.CertPool {
		data, err := os.ReadFile(f)
		if err != nil {
			add(key, "cannot read %s: %s", f, fileErr(err))
			return nil
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			add(key, "%s holds no PEM certificates", f)
			return nil
		}
		return pool
	}
	t := &c.TLS
	if t.ClientCAFile != "" {
		t.clientCAs = readPool("tls.client_ca_file", t.ClientCAFile)
	}
	if t.ACME.CARootFile != "" {
		t.ACME.roots = readPool("tls.acme.ca_root_file", t.ACME.CARootFile)
	}
	if t.CertFile != "" && t.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			add("tls.cert_file", "%s and %s: %s", t.CertFile, t.KeyFile, fileErr(err))
		}
	}
	return ps
}

// validateTLS checks the tls section's values.
func (c *Config) validateTLS() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	t := &c.TLS
	static := t.CertFile != "" || t.KeyFile != ""
	if t.Listen == "" {
		if static || t.acme() || t.ClientCAFile != "" || t.ACME.Storage != "" {
			add("tls.listen", "is required when the tls section is used (e.g. :8443)")
		}
		return ps
	}
	if msg := checkListen(t.Listen); msg != "" {
		add("tls.listen", "%s", msg)
	} else if strings.HasPrefix(t.Listen, "unix:") {
		add("tls.listen", "%q: HTTPS needs host:port", t.Listen)
	}
	switch {
	case static && t.acme():
		add("tls", "both cert_file/key_file and acme.domains are set; use one")
	case !static && !t.acme():
		add("tls", "no certificate: set cert_file and key_file, or acme.domains")
	case static && (t.CertFile == "" || t.KeyFile == ""):
		add("tls", "cert_file and key_file go together")
	}
	if t.acme() {
		if t.ACME.Storage == "" {
			add("tls.acme.storage", "is required with ACME: a writable directory for certificates and the account (never $HOME)")
		} else if !filepath.IsAbs(t.ACME.Storage) {
			add("tls.acme.storage", "%q must be an absolute path", t.ACME.Storage)
		}
		if t.ACME.CA != "" {
			if msg := checkHTTPSURL(t.ACME.CA, true); msg != "" {
				add("tls.acme.ca", "%s", msg)
			}
		}
		for i, d := range t.ACME.Domains {
			if d == "" || net.ParseIP(d) != nil || !namePattern.MatchString(d) {
				add(fmt.Sprintf("tls.acme.domains[%d]", i), "%q is not a DNS name", d)
			}
		}
	}
	return ps
}

// httpsListener is a running HTTPS setup: the TLS configuration for the server and whatever
// must be stopped when it ends.
type httpsListener struct {
	config *tls.Config
	stop   func()
}

// newHTTPS builds the TLS configuration: TLS 1.2 minimum, HTTP/2 offered (ServeTLS adds h2),
// client certificates required when tls.client_ca_file is set.
func newHTTPS(ctx context.Context, cfg *Config, log zerolog.Logger, stdout io.Writer) (*httpsListener, error) {
	t := &cfg.TLS
	h := &httpsListener{stop: func() {}}
	if t.acme() {
		magic, stop, err := newACME(ctx, t, log, stdout)
		if err != nil {
			return nil, err
		}
		h.config, h.stop = magic, stop
	} else {
		r := &certReloader{certFile: t.CertFile, keyFile: t.KeyFile, every: 2 * time.Second, now: time.Now, log: log}
		if err := r.load(); err != nil {
			return nil, err
		}
		h.config = &tls.Config{GetCertificate: r.GetCertificate}
	}
	h.config.MinVersion = tls.VersionTLS12
	if t.clientCAs != nil {
		h.config.ClientCAs = t.clientCAs
		h.config.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return h, nil
}

// newACME starts certmagic for the configured domains with storage at tls.acme.storage. The
// certificates are obtained in the background; stop ends certmagic's maintenance goroutine.
func newACME(ctx context.Context, t *TLSConfig, log zerolog.Logger, stdout io.Writer) (*tls.Config, func(), error) {
	zl := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(stdout), zapcore.InfoLevel)).With(zap.String("component", "certmagic"))
	var magic *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zl,
	})
	magic = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: t.ACME.Storage},
		Logger:  zl,
	})
	ca := t.ACME.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	port := 443
	if _, p, err := net.SplitHostPort(t.Listen); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			port = n
		}
	}
	magic.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:           ca,
		Email:        t.ACME.Email,
		Agreed:       true,
		TrustedRoots: t.ACME.roots,
		// The gateway serves no port 80; TLS-ALPN challenges are answered by the HTTPS
		// listener itself (cfg.TLSConfig handles acme-tls/1), which must be reachable on 443.
		DisableHTTPChallenge: true,
		AltTLSALPNPort:       port,
		Logger:               zl,
	})}
	if err := magic.ManageAsync(ctx, t.ACME.Domains); err != nil {
		cache.Stop()
		return nil, nil, fmt.Errorf("tls.acme: %w", err)
	}
	log.Info().Strs("domains", t.ACME.Domains).Str("ca", ca).Str("storage", t.ACME.Storage).Msg("acme certificates managed")
	tc := magic.TLSConfig()
	return tc, cache.Stop, nil
}

// certReloader serves a static certificate and re-reads it when its files change, so a
// renewed certificate is picked up without a restart. A bad new pair is logged and the old one
// kept.
type certReloader struct {
	certFile, keyFile string
	every             time.Duration // how often the files' mtimes are looked at, at most
	now               func() time.Time
	log               zerolog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string    // mtimes and sizes of the pair when loaded
	checked time.Time // last look at the files
}

func (r *certReloader) fileStamp() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fi.ModTime().String() + "/" + strconv.FormatInt(fi.Size(), 10) + ";"
	}
	return s, nil
}

// load reads the pair now.
func (r *certReloader) load() error {
	stamp, err := r.fileStamp()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %s: %w", r.certFile, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cert, r.stamp, r.checked = &cert, stamp, r.now()
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= r.every {
		r.checked = now
		if stamp, err := r.fileStamp(); err == nil && stamp != r.stamp {
			if cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile); err != nil {
				r.log.Warn().Str("cert_file", r.certFile).Err(err).Msg("tls certificate changed but does not load; keeping the old one")
			} else {
				r.cert, r.stamp = &cert, stamp
				r.log.Info().Str("cert_file", r.certFile).Msg("tls certificate reloaded")
			}
		}
	}
	if r.cert == nil {
		return nil, errors.New("no certificate")
	}
	return r.cert, nil
}
