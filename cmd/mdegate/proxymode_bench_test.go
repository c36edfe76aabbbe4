package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/internal/intercept"
)

// BenchmarkProxyModeCall is what the proxy mode costs per API call once connections are up:
// the same GET /api/alerts through the real gateway in front of the emulator, with the same
// gateway token, sent
//   - direct-tls: to tls.listen (HTTPS to the gateway, the direct case with the same crypto),
//   - tunnel: inside a CONNECT tunnel to api.security.microsoft.com (TLS terminated by the
//     gateway with a leaf minted once for that host),
//   - tunnel-new-conn: a new CONNECT and handshake per call (the leaf comes from the cache),
//   - direct-key: plain HTTP with a caller key and tenant header (today's path, no TLS).
//
// cpu-us/op is the process's CPU (user+system) per call: gateway, emulator and client
// together, so compare the variants with each other, not with production figures.
func BenchmarkProxyModeCall(b *testing.B) {
	secret := "bench-secret"
	emu, err := emulator.Start(demoOptions(secret))
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	dir := b.TempDir()
	ca, err := intercept.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		b.Fatal(err)
	}
	tlsCert, tlsKey := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls-key.pem")
	writeBenchCert(b, tlsCert, tlsKey) // the fallback; api.security.microsoft.com gets its leaf by SNI
	key := "mdg_benchkey"
	extra := fmt.Sprintf(`clients:
  - {name: tool, key_sha256: %s, tenants: [contoso], allow: ["*"]}
token_endpoint: {enabled: true}
intercept: {ca_cert_file: %q, ca_key_file: %q}
tls: {listen: "127.0.0.1:0", cert_file: %q, key_file: %q}
limits: {shape: false}
`, sha256Hex(key), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"), tlsCert, tlsKey)
	caFile := filepath.Join(dir, "emu-ca.pem")
	if err := os.WriteFile(caFile, emu.CAPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "mdegate.yaml")
	// Quotas off (the emulator enforces none by default either): this measures the path.
	y := strings.Replace(demoYAML(emu, "127.0.0.1:0", secret, caFile, extra), "level: info", "level: warn", 1)
	if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, _, err := config.Load(cfgFile)
	if err != nil {
		b.Fatal(err)
	}
	gw, err := newGateway(cfg, io.Discard, gatewayOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.run(ctx) }()
	defer func() { cancel(); <-done }()
	var plain, tlsAddr string
	for deadline := time.Now().Add(10 * time.Second); plain == ""; time.Sleep(5 * time.Millisecond) {
		if ls := gw.ls.Load(); ls != nil {
			plain, tlsAddr = ls.main.Addr().String(), ls.tls.Addr().String()
		}
		if time.Now().After(deadline) {
			b.Fatal("gateway did not start")
		}
	}
	gwURL, _ := url.Parse("http://" + plain)
	tunnel := &http.Transport{Proxy: http.ProxyURL(gwURL), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	// The gateway token, from the token endpoint inside a tunnel, as a tool gets it.
	resp, err := (&http.Client{Transport: tunnel}).PostForm("https://login.microsoftonline.com/contoso/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"bench"}, "client_secret": {key},
		"scope": {"https://api.securitycenter.microsoft.com/.default"}})
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	bearer := tok.AccessToken
	if err != nil || bearer == "" {
		b.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	d := &net.Dialer{}
	directTLS := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "api.security.microsoft.com"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, tlsAddr)
		}}
	newConn := tunnel.Clone()
	newConn.DisableKeepAlives = true
	for _, v := range []struct {
		name, url string
		tr        *http.Transport
		hdr       http.Header
	}{
		{"direct-tls", "https://api.security.microsoft.com/api/alerts", directTLS, http.Header{"Authorization": {"Bearer " + bearer}}},
		{"tunnel", "https://api.security.microsoft.com/api/alerts", tunnel, http.Header{"Authorization": {"Bearer " + bearer}}},
		{"tunnel-new-conn", "https://api.security.microsoft.com/api/alerts", newConn, http.Header{"Authorization": {"Bearer " + bearer}}},
		{"direct-key", "http://" + plain + "/api/alerts", &http.Transport{}, http.Header{"Authorization": {"Bearer " + key}, "X-Tenant-Id": {"contoso"}}},
	} {
		b.Run(v.name, func(b *testing.B) {
			client := &http.Client{Transport: v.tr}
			call := func() {
				req, _ := http.NewRequest("GET", v.url, nil)
				req.Header = v.hdr.Clone()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			call() // the connection (and the leaf) before the clock starts
			before := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				call()
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-us/op")
			v.tr.CloseIdleConnections()
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// writeBenchCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeBenchCert(b *testing.B, certFile, keyFile string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mdegate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		b.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	if os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600) != nil ||
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600) != nil {
		b.Fatal("cannot write the certificate")
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
