package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mdegate/mdegate/internal/intercept"
)

// systemRootFiles are where the usual systems keep their public roots as one PEM file, in the
// order Go's crypto/x509 looks for them on Linux.
var systemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, macOS
}

// caCommand is `mdegate ca -out DIR`: a new CA for the proxy mode (intercept.ca_cert_file and
// ca_key_file), and how to make tools trust it.
func caCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	out := fs.String("out", "", "`directory` to write ca.pem, ca-key.pem and bundle.pem into; required")
	roots := fs.String("system-roots", "", "PEM `file` of the public roots for bundle.pem (default: the system's)")
	return func(context.Context) error { return caCmd(*out, *roots, c.stdout) }
}

// caCmd writes the proxy mode's CA into out and prints how to make tools trust it.
func caCmd(out, roots string, stdout io.Writer) error {
	if out == "" {
		return usagef("-out DIR is required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	ca, err := intercept.NewCA()
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := ca.WriteCA(out); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	dir, _ := filepath.Abs(out)
	caFile, keyFile, bundleFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"), filepath.Join(dir, "bundle.pem")
	system, from := readSystemRoots(roots)
	if system != nil {
		b := append(bytes.TrimRight(system, "\n"), '\n')
		b = append(b, ca.CertPEM()...)
		f, err := os.OpenFile(bundleFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = f.Write(b)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("ca: %w", err)
		}
	}
	fmt.Fprintf(stdout, `Wrote %s (the certificate tools trust) and %s (its key, mode 0600: keep it secret).
The CA can only sign certificates for Microsoft's login and Defender API hosts (X.509 name
constraints); the gateway mints them when a tool connects through it.

In mdegate.yaml:
  token_endpoint: {enabled: true}
  intercept: {ca_cert_file: %s, ca_key_file: %s}

Then give each tool HTTPS_PROXY=http://GATEWAY:8080 and trust %s:
`, caFile, keyFile, caFile, keyFile, caFile)
	if system != nil {
		fmt.Fprintf(stdout, `  Python (requests, httpx, msal, azure-identity):
    REQUESTS_CA_BUNDLE=%[1]s  (requests)   SSL_CERT_FILE=%[1]s  (httpx, urllib)
    These REPLACE Python's roots, so point them at %[1]s: the system roots (%[2]s) plus this CA.
`, bundleFile, from)
	} else {
		fmt.Fprintf(stdout, `  Python (requests, httpx, msal, azure-identity):
    REQUESTS_CA_BUNDLE / SSL_CERT_FILE REPLACE Python's roots: give them a file with the public
    roots and %[1]s appended (no system root file was found here, so no bundle.pem was written).
`, caFile)
	}
	fmt.Fprintf(stdout, `  Node:        NODE_EXTRA_CA_CERTS=%[1]s  (adds to Node's roots)
  curl:        curl -x http://GATEWAY:8080 --cacert %[1]s ...  (--cacert replaces curl's roots)
  Go:          SSL_CERT_FILE=%[2]s, or add %[1]s to the client's tls.Config RootCAs
  PowerShell / Windows (and .NET on Windows):
               Import-Certificate -FilePath %[1]s -CertStoreLocation Cert:\LocalMachine\Root
  .NET on Linux: copy %[1]s to /usr/local/share/ca-certificates/mdegate-ca.crt; update-ca-certificates
  Java:        keytool -importcert -noprompt -alias mdegate-ca -file %[1]s -keystore "$JAVA_HOME/lib/security/cacerts" -storepass changeit
  SOAR/SIEM connectors: "use system proxy" (or the proxy URL field) plus the CA in the
               platform's trusted certificates (often the OS store, as above).
`, caFile, bundleFile)
	return nil
}

// readSystemRoots returns the public roots as PEM, from path or the system's file, and where
// they came from; nil when none is found.
func readSystemRoots(path string) ([]byte, string) {
	files := systemRootFiles
	if path != "" {
		files = []string{path}
	} else if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		files = append([]string{f}, files...)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
			return b, f
		}
	}
	return nil, ""
}
