package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/proxy"
)

// Regression test for issue 14, finding 11: a request with both Content-Length and
// Transfer-Encoding was served and its connection kept open. Behind GuardFraming it is 400
// and the connection closed, while keep-alive requests with either framing, pipelined or
// not, pass as before.
func TestGuardFraming(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	srv.Listener = proxy.GuardFraming(srv.Listener)
	srv.Start()
	defer srv.Close()

	exchange := func(t *testing.T, req string, n int) ([]*http.Response, []string, *bufio.Reader) {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(guard))
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		var resps []*http.Response
		var bodies []string
		for range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d: %v", len(resps)+1, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resps, bodies = append(resps, resp), append(bodies, string(b))
		}
		return resps, bodies, br
	}

	t.Run("keep-alive framings pass", func(t *testing.T) {
		req := "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer-X: 1\r\n\r\n" +
			"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
		_, bodies, _ := exchange(t, req, 3)
		want := []string{"POST /a abcde", "POST /b hello", "GET /c "}
		for i := range want {
			if bodies[i] != want[i] {
				t.Errorf("answer %d: %q, want %q", i+1, bodies[i], want[i])
			}
		}
	})
	// What follows a CONNECT is a tunnel, not requests: bytes that look like no request head
	// (a TLS ClientHello) pass at once. The guard once held them as a partial head, so every
	// tunnel of the proxy mode hung.
	t.Run("connect tunnel passes", func(t *testing.T) {
		tun := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\n\r\n")
			b := make([]byte, 3)
			if _, err := io.ReadFull(brw, b); err == nil {
				_, _ = conn.Write(b) // echo what came through the tunnel
			}
		}))
		tun.Listener = proxy.GuardFraming(tun.Listener)
		tun.Start()
		defer tun.Close()
		conn, err := net.Dial("tcp", tun.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(guard))
		_, _ = io.WriteString(conn, "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %v %v", resp, err)
		}
		_, _ = conn.Write([]byte{0x16, 0x03, 0x01}) // a TLS record's start, no newline ever
		got := make([]byte, 3)
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "\x16\x03\x01" {
			t.Fatalf("through the tunnel: %q, %v", got, err)
		}
	})
	for _, tt := range []struct{ name, req string }{
		{"first request", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"after a chunked one", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n" +
			"POST /b HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length:  4\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := strings.Count(tt.req, "HTTP/1.1\r\nHost")
			resps, bodies, br := exchange(t, tt.req, n)
			last := resps[len(resps)-1]
			if last.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d (%q), want 400", last.StatusCode, bodies[len(bodies)-1])
			}
			if n, err := br.Read(make([]byte, 1)); err == nil {
				t.Errorf("the connection stayed open (read %d more bytes)", n)
			}
		})
	}
}
