package config

import (
	"time"

	"github.com/mdegate/mdegate/internal/tokenendpoint"
)

// TokenEndpointConfig is token_endpoint: the gateway's Entra-compatible token endpoint
// (internal/tokenendpoint), so that tools which fetch their own token from
// login.microsoftonline.com get a gateway token with their caller key as client secret.
type TokenEndpointConfig struct {
	// Enabled serves the token endpoint's paths (/{tenant}/oauth2/..., discovery) on the
	// listeners. Unset: false, and those paths are not served.
	Enabled bool `yaml:"enabled"`
	// SigningKeyFile is a PEM private key (EC P-256 or RSA of at least 2048 bits) that signs
	// gateway tokens; replicas that must accept each other's tokens share it. Unset: a key made
	// at start, with a warning (tokens die with the process and are not valid on other
	// replicas).
	SigningKeyFile string `yaml:"signing_key_file"`
	// Lifetime of a gateway token, at most 24h. Zero means 1h.
	Lifetime time.Duration `yaml:"lifetime"`
}

// resolve reads the signing key file, so that a bad one is a config problem, not a start
// failure.
func (t *TokenEndpointConfig) resolve(ps *problems) *tokenendpoint.SigningKey {
	if !t.Enabled || t.SigningKeyFile == "" {
		return nil
	}
	k, err := tokenendpoint.LoadSigningKey(t.SigningKeyFile)
	if err != nil {
		ps.add("token_endpoint.signing_key_file", "%s", err.Error())
		return nil
	}
	return k
}

// validate checks the token_endpoint section.
func (t *TokenEndpointConfig) validate(ps *problems) {
	if t.Lifetime < 0 || t.Lifetime > tokenendpoint.MaxLifetime {
		ps.add("token_endpoint.lifetime", "%s is out of range (between 1s and %s; unset means %s)", t.Lifetime,
			tokenendpoint.MaxLifetime, tokenendpoint.DefaultLifetime)
	}
	if !t.Enabled && t.SigningKeyFile != "" {
		ps.add("token_endpoint.signing_key_file", "does nothing while token_endpoint.enabled is false")
	}
}

// TokenLifetime is token_endpoint.lifetime with its default applied.
func (t *TokenEndpointConfig) TokenLifetime() time.Duration {
	if t.Lifetime == 0 {
		return tokenendpoint.DefaultLifetime
	}
	return t.Lifetime
}
