package config

import (
	"fmt"

	"github.com/mdegate/mdegate/internal/intercept"
	"github.com/mdegate/mdegate/routing"
)

// DefaultPassthrough is intercept.passthrough when the key is absent: the storage hosts of
// MDE's export SAS links, which tools download from directly.
var DefaultPassthrough = []string{"*.blob.core.windows.net"}

// InterceptConfig is intercept: the HTTPS proxy mode (internal/intercept). Tools whose only
// setting is HTTPS_PROXY send CONNECT to the gateway, which answers the cloud's login and
// Defender API hosts itself with certificates from a private CA, tunnels the passthrough
// hosts, and refuses everything else.
type InterceptConfig struct {
	// CACertFile is the private CA's certificate (`mdegate ca -out DIR` makes ca.pem) that
	// tools are told to trust. Unset: no proxy mode; CONNECT is refused.
	CACertFile string `yaml:"ca_cert_file"`
	// CAKeyFile is the CA's private key (ca-key.pem, mode 0600). Unset: no proxy mode.
	CAKeyFile string `yaml:"ca_key_file"`
	// Passthrough are the hosts tunnelled as plain bytes to a known caller: "host",
	// "host:port" or "*.domain" ("*" inside one label); no port means any port. Absent:
	// DefaultPassthrough; [] tunnels nothing.
	Passthrough []string `yaml:"passthrough"`
}

// Enabled reports whether the proxy mode is configured.
func (i *InterceptConfig) Enabled() bool { return i.CACertFile != "" || i.CAKeyFile != "" }

// PassthroughHosts is intercept.passthrough with its default applied.
func (i *InterceptConfig) PassthroughHosts() []string {
	if i.Passthrough == nil {
		return DefaultPassthrough
	}
	return i.Passthrough
}

// resolve loads the CA, so that a bad pair is a config problem, not a start failure.
func (i *InterceptConfig) resolve(ps *problems) *intercept.CA {
	if i.CACertFile == "" || i.CAKeyFile == "" {
		return nil
	}
	ca, err := intercept.LoadCA(i.CACertFile, i.CAKeyFile)
	if err != nil {
		ps.add("intercept.ca_cert_file", "%s", err.Error())
		return nil
	}
	return ca
}

// validate checks the intercept section against the token endpoint, which answers the login
// hosts it intercepts.
func (c *Config) validateIntercept(ps *problems) {
	i := &c.Intercept
	if !i.Enabled() {
		if i.Passthrough != nil {
			ps.add("intercept.passthrough", "does nothing without intercept.ca_cert_file and intercept.ca_key_file")
		}
		return
	}
	if i.CACertFile == "" {
		ps.add("intercept.ca_cert_file", "is required with intercept.ca_key_file (`mdegate ca -out DIR` makes both)")
	}
	if i.CAKeyFile == "" {
		ps.add("intercept.ca_key_file", "is required with intercept.ca_cert_file (`mdegate ca -out DIR` makes both)")
	}
	if !c.TokenEndpoint.Enabled {
		ps.add("intercept", "needs token_endpoint.enabled: true (tools in proxy mode get their tokens from the gateway's token endpoint)")
	}
	// Each pattern on its own, so the problem names its index: intercept's error quotes the
	// pattern, and a value outside the fixed vocabulary is never repeated (issue 14, item 9).
	for j, p := range i.Passthrough {
		if _, err := intercept.New(intercept.Options{Passthrough: []string{p}}); err != nil {
			ps.add(fmt.Sprintf("intercept.passthrough[%d]", j), "is not a host, host:port or *.domain pattern")
		}
	}
	// An unknown cloud.name is reported at cloud.name; this catches a cloud routing knows and
	// the proxy mode does not.
	if _, known := routing.LookupCloud(c.Cloud.Name); known {
		if _, err := intercept.CloudHosts(c.Cloud.Name); err != nil {
			ps.add("intercept", "the proxy mode knows no hosts of cloud %q", c.Cloud.Name)
		}
	}
}
