package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
)

// keyCommand is `mdegate key`.
func keyCommand(_ *flag.FlagSet, c cli) func(context.Context) error {
	return func(context.Context) error { return newKey(c.stdout) }
}

// newKey prints a new random caller key and the key_sha256 line for its clients entry.
func newKey(w io.Writer) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	key := "mdg_" + hex.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(key))
	fmt.Fprintf(w, "key: %s\n", key)
	fmt.Fprintf(w, "key_sha256: %s\n", hex.EncodeToString(sum[:]))
	return nil
}
