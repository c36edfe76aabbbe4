package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
)

// httpsListener is a running HTTPS setup: the TLS configuration for the server and whatever
// must be stopped when it ends.
type httpsListener struct {
	config *tls.Config
	stop   func()
}

// newHTTPS builds the TLS configuration: TLS 1.2 minimum, HTTP/2 offered (ServeTLS adds h2),
// client certificates required when tls.client_ca_file is set.
func newHTTPS(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*httpsListener, error) {
	t := &cfg.TLS
	h := &httpsListener{stop: func() {}}
	if t.UsesACME() {
		magic, stop, err := newACME(ctx, t, cfg.Resolved.ACMERoots, log)
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
	if cas := cfg.Resolved.ClientCAs; cas != nil {
		h.config.ClientCAs = cas
		h.config.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return h, nil
}

// newACME starts certmagic for the configured domains with storage at tls.acme.storage. The
// certificates are obtained in the background; stop ends certmagic's maintenance goroutine.
func newACME(ctx context.Context, t *config.TLSConfig, roots *x509.CertPool, log zerolog.Logger) (*tls.Config, func(), error) {
	// certmagic logs through the gateway's sink: same schema, level and buffer (zaplog.go).
	zl := newZapLogger(log.With().Str("component", "certmagic").Logger())
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
		TrustedRoots: roots,
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
