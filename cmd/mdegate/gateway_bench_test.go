package main

import (
	"io"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/emulator"
)

// BenchmarkAcquire is what the reloadable gateway adds to every request: the admin-path check
// and taking and dropping a reference on the current generation, from all cores at once.
func BenchmarkAcquire(b *testing.B) {
	emu, err := emulator.Start(demoOptions("s"))
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	cfg, err := config.Parse(strings.NewReader(demoYAML(emu, "127.0.0.1:0", "s", "", "")), "bench")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Resolved.CAPEM = emu.CAPEM()
	gw, err := newGateway(cfg, io.Discard, gatewayOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.close()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if isAdminPath("/api/alerts") {
				b.Fatal("admin path")
			}
			gw.acquire().release()
		}
	})
}
