package config

import (
	"os"
	"strings"

	"github.com/mdegate/mdegate/internal/consent"
)

// ConsentConfig is the consent landing page's section (issue 19): the key that signs the
// state `mdegate consent-url` puts into the admin-consent links, which the page at
// /consent/callback checks.
type ConsentConfig struct {
	// StateKey is the signing key: base64 of at least 32 bytes (`openssl rand -base64 32`);
	// write it as ${VAR} to keep it out of the file. It is read at start: a reload does not
	// change it. Unset (and StateKeyFile unset): the gateway makes a key at start, so only
	// the links it makes itself (the status page's) verify, and only until it restarts;
	// `mdegate consent-url` then prints links without a state, which land on an "invalid
	// consent link" page.
	StateKey string `yaml:"state_key"`
	// StateKeyFile is a file holding the key as StateKey does (a mounted secret). Unset: StateKey.
	StateKeyFile string `yaml:"state_key_file"`
}

// resolve reads the key from state_key or state_key_file; nil when neither is set. The
// problems name the key, never its content.
func (c *ConsentConfig) resolve(ps *problems) []byte {
	s, key := c.StateKey, "consent.state_key"
	switch {
	case c.StateKey != "" && c.StateKeyFile != "":
		ps.add("consent", "set state_key or state_key_file, not both")
		return nil
	case c.StateKeyFile != "":
		key = "consent.state_key_file"
		data, err := os.ReadFile(c.StateKeyFile)
		if err != nil {
			ps.add(key, "cannot read %s: %s", c.StateKeyFile, fileErr(err))
			return nil
		}
		s = string(data)
	case s == "":
		return nil
	}
	k, err := consent.ParseKey(s)
	if err != nil {
		ps.add(key, "%s", err.Error())
		return nil
	}
	return k
}

// ConsentRedirectURI is the reply URL the admin-consent links of tenants served by app name:
// app.redirect_uri when set, else public_url + /consent/callback (the landing page) when
// public_url is set, else "".
func (c *Config) ConsentRedirectURI(app *AppConfig) string {
	if app.RedirectURI != "" {
		return app.RedirectURI
	}
	u := c.PublicBaseURL() // a fresh copy: changing it changes nothing else
	if u == nil {
		return ""
	}
	u.Path = strings.TrimRight(u.Path, "/") + consent.CallbackPath
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}
