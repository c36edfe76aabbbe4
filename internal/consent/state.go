package consent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// KeySize is the size of a key NewKey makes, and the least NewSigner accepts.
const KeySize = 32

// maxState bounds the state Verify looks at; a real one is well under it.
const maxState = 1024

// stateVersion is the first byte of a state's payload, so the format can change.
const stateVersion = 1

// macLabel separates the state's MAC from any other use of the same key.
const macLabel = "mdegate consent state\x00"

// Errors Verify returns. The landing page shows the same words for all of them and nothing of
// the state's content.
var (
	// ErrMissing: there is no state.
	ErrMissing = errors.New("consent: no state")
	// ErrInvalid: the state is malformed or its signature does not match (forged or signed
	// under another key).
	ErrInvalid = errors.New("consent: invalid state")
	// ErrExpired: the state is genuine but past its expiry.
	ErrExpired = errors.New("consent: expired state")
)

// NewKey returns KeySize random bytes for a Signer, for a gateway whose configuration names
// no key: its links then stop verifying when it restarts.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand panics instead, since Go 1.24)
	return k
}

// ParseKey decodes a key written in the configuration as base64 (standard or URL alphabet,
// padded or not). It must decode to at least KeySize bytes. The error never quotes the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	var k []byte
	var err error
	if strings.ContainsAny(s, "-_") {
		k, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		k, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("consent key is not base64")
	}
	if len(k) < KeySize {
		return nil, fmt.Errorf("consent key has %d bytes, want at least %d", len(k), KeySize)
	}
	return k, nil
}

// EncodeKey writes a key as ParseKey reads it (URL-safe base64 without padding).
func EncodeKey(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

// Signer signs and verifies consent states: a tenant alias and an expiry under an
// HMAC-SHA256. A state is URL-safe (base64url and a dot) and about 60 characters plus the
// alias; it is not secret (the alias is readable), only unforgeable.
type Signer struct {
	key []byte
	now func() time.Time
}

// NewSigner returns a Signer under key, which must have at least KeySize bytes (NewKey,
// ParseKey). now is the clock for expiry; nil means time.Now.
func NewSigner(key []byte, now func() time.Time) (*Signer, error) {
	if len(key) < KeySize {
		return nil, fmt.Errorf("consent key has %d bytes, want at least %d", len(key), KeySize)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: append([]byte(nil), key...), now: now}, nil
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(macLabel))
	m.Write(payload)
	return m.Sum(nil)
}

// Sign returns a state naming alias that verifies until expiry (to the second).
func (s *Signer) Sign(alias string, expiry time.Time) string {
	payload := make([]byte, 9, 9+len(alias))
	payload[0] = stateVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(expiry.Unix()))
	payload = append(payload, alias...)
	return base64.RawURLEncoding.EncodeToString(payload) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// Verify returns the alias a state names when it was signed under the Signer's key and has
// not expired; otherwise ErrMissing, ErrInvalid or ErrExpired. The signature is checked (in
// constant time) before anything in the state is believed.
func (s *Signer) Verify(state string) (alias string, err error) {
	if state == "" {
		return "", ErrMissing
	}
	if len(state) > maxState {
		return "", ErrInvalid
	}
	p64, m64, ok := strings.Cut(state, ".")
	if !ok {
		return "", ErrInvalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || len(mac) != sha256.Size || !hmac.Equal(mac, s.mac(payload)) {
		return "", ErrInvalid
	}
	if len(payload) < 10 || payload[0] != stateVersion || !utf8.Valid(payload[9:]) {
		return "", ErrInvalid
	}
	expiry := int64(binary.BigEndian.Uint64(payload[1:9]))
	if s.now().Unix() >= expiry {
		return "", ErrExpired
	}
	return string(payload[9:]), nil
}
