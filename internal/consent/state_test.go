package consent

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func signer(t testing.TB, key []byte, now *time.Time) *Signer {
	t.Helper()
	s, err := NewSigner(key, func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	now := t0
	s := signer(t, testKey(1), &now)
	for _, alias := range []string{"contoso", "Fabrikam Ltd", "ü-kunde", strings.Repeat("x", 300)} {
		st := s.Sign(alias, t0.Add(7*24*time.Hour))
		if url.QueryEscape(st) != st {
			t.Errorf("state %q is not URL-safe", st)
		}
		got, err := s.Verify(st)
		if err != nil || got != alias {
			t.Errorf("Verify(Sign(%q)): got %q, %v", alias, got, err)
		}
	}
}

func TestStateExpires(t *testing.T) {
	t.Parallel()
	now := t0
	s := signer(t, testKey(1), &now)
	st := s.Sign("contoso", t0.Add(time.Hour))
	now = t0.Add(time.Hour - time.Second)
	if _, err := s.Verify(st); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	now = t0.Add(time.Hour)
	if _, err := s.Verify(st); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: got %v, want ErrExpired", err)
	}
}

func TestStateRejectsForgeries(t *testing.T) {
	t.Parallel()
	now := t0
	s := signer(t, testKey(1), &now)
	other := signer(t, testKey(2), &now)
	good := s.Sign("contoso", t0.Add(time.Hour))
	p64, m64, _ := strings.Cut(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(p64)
	// The alias swapped for another customer's, the old signature kept.
	swapped := base64.RawURLEncoding.EncodeToString(append(payload[:9:9], "fabrikam"...)) + "." + m64
	// The expiry pushed out, the old signature kept.
	later := append([]byte(nil), payload...)
	later[8]++
	extended := base64.RawURLEncoding.EncodeToString(later) + "." + m64
	flipped := []byte(good)
	flipped[len(flipped)-3] ^= 1

	for name, st := range map[string]string{
		"other key":    other.Sign("contoso", t0.Add(time.Hour)),
		"alias swap":   swapped,
		"expiry moved": extended,
		"bit flipped":  string(flipped),
		"no mac":       p64,
		"empty mac":    p64 + ".",
		"short mac":    p64 + "." + m64[:20],
		"not base64":   "!!!." + m64,
		"too long":     strings.Repeat("a", 2000) + "." + m64,
		"junk":         "hello",
	} {
		if alias, err := s.Verify(st); !errors.Is(err, ErrInvalid) || alias != "" {
			t.Errorf("%s: got %q, %v; want ErrInvalid", name, alias, err)
		}
	}
	if _, err := s.Verify(""); !errors.Is(err, ErrMissing) {
		t.Errorf("empty: got %v, want ErrMissing", err)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k := NewKey()
	if len(k) != KeySize || bytes.Equal(k, NewKey()) {
		t.Fatalf("NewKey: %d bytes, or not random", len(k))
	}
	for _, enc := range []string{EncodeKey(k), base64.StdEncoding.EncodeToString(k), " " + base64.URLEncoding.EncodeToString(k) + "\n"} {
		got, err := ParseKey(enc)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q): %v", enc, err)
		}
	}
	for _, bad := range []string{"", "c2hvcnQ", "not base64 at all!"} {
		_, err := ParseKey(bad)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseKey error quotes the key: %v", err)
		}
	}
	if _, err := NewSigner(make([]byte, KeySize-1), nil); err == nil {
		t.Errorf("NewSigner accepted a short key")
	}
}
