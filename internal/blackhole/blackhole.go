// Package blackhole gives tests a TCP endpoint on loopback that accepts connections and never
// answers, not even a TLS handshake: an MDE endpoint behind a broken load balancer, or a hung
// Redis. Only what times out is left to test.
package blackhole

import (
	"net"
	"sync"
	"testing"
)

// Listen starts the endpoint and returns its address (127.0.0.1:port). At the test's cleanup
// it stops listening, waits for its accept loop, and closes every connection it took.
func Listen(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
