package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// chunkWriter records every Write it gets, so a test sees where the buffer cut.
type chunkWriter struct {
	mu     sync.Mutex
	chunks [][]byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chunks = append(w.chunks, bytes.Clone(p))
	return len(p), nil
}

func (w *chunkWriter) all() ([][]byte, []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.chunks, bytes.Join(w.chunks, nil)
}

func TestLogBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		writers  int
		lines    int // per writer
		lineSize int
	}{
		{"small lines from many goroutines", 8, 2000, 200},
		{"lines larger than the buffer", 2, 3, logBufferSize + 100},
		{"mixed around the buffer size", 4, 50, logBufferSize/3 + 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &chunkWriter{}
			b := newLogBuffer(out)
			b.start()
			var wg sync.WaitGroup
			for w := range tt.writers {
				wg.Go(func() {
					for i := range tt.lines {
						head := fmt.Sprintf(`{"w":%d,"i":%d,"pad":"`, w, i)
						line := head + strings.Repeat("x", max(0, tt.lineSize-len(head)-3)) + "\"}\n"
						if n, err := b.Write([]byte(line)); err != nil || n != len(line) {
							t.Errorf("Write = %d, %v; want %d, nil", n, err, len(line))
						}
					}
				})
			}
			wg.Wait()
			b.stop()
			chunks, all := out.all()
			for _, c := range chunks {
				if len(c) == 0 || c[len(c)-1] != '\n' {
					t.Fatalf("a write ended inside a line: %q", c[max(0, len(c)-20):])
				}
				if len(c) > logBufferSize && bytes.Count(c, []byte("\n")) > 1 {
					t.Fatalf("a write of %d bytes holds several lines over the buffer size", len(c))
				}
			}
			seen := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSuffix(string(all), "\n"), "\n") {
				var m struct{ W, I int }
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line split or interleaved: %.60q: %v", line, err)
				}
				seen[fmt.Sprint(m.W, m.I)] = true
			}
			if want := tt.writers * tt.lines; len(seen) != want {
				t.Errorf("got %d distinct lines, want %d", len(seen), want)
			}
			if tt.lineSize < 1000 && len(chunks) > (tt.writers*tt.lines*tt.lineSize)/(logBufferSize/2)+5 {
				t.Errorf("%d writes for %d small lines: not buffered", len(chunks), tt.writers*tt.lines)
			}
		})
	}
}

// TestLogBufferFlushesOnTimer: a lone line reaches the output within the flush interval,
// without waiting for the buffer to fill or the gateway to stop.
func TestLogBufferFlushesOnTimer(t *testing.T) {
	t.Parallel()
	out := &chunkWriter{}
	b := newLogBuffer(out)
	b.start()
	defer b.stop()
	_, _ = b.Write([]byte("{\"a\":1}\n"))
	if _, all := out.all(); len(all) != 0 {
		t.Fatalf("written at once (%q): not buffered", all)
	}
	deadline := time.Now().Add(20 * logFlushInterval)
	for {
		if _, all := out.all(); string(all) == "{\"a\":1}\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("line not flushed %v after it was written", 20*logFlushInterval)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogBufferWritesThroughWhenStopped: before start and after stop nothing is held.
func TestLogBufferWritesThroughWhenStopped(t *testing.T) {
	t.Parallel()
	out := &chunkWriter{}
	b := newLogBuffer(out)
	_, _ = b.Write([]byte("before\n"))
	b.start()
	_, _ = b.Write([]byte("during\n"))
	b.stop()
	b.stop() // twice is harmless
	_, _ = b.Write([]byte("after\n"))
	if _, all := out.all(); string(all) != "before\nduring\nafter\n" {
		t.Errorf("got %q", all)
	}
}

// TestServeBufferedLogLosesNothing runs `mdegate serve` with stdout a real file, as in
// production (so the log is buffered), and checks after a graceful stop that every call has
// its whole line, "stopped" is the last one, and no secret or token is in the file.
func TestServeBufferedLogLosesNothing(t *testing.T) {
	t.Parallel()
	secret := "test-secret~" + strings.Repeat("b7", 8)
	emu := startEmulator(t, secret)
	cfgPath := writeConfig(t, emu, func(ca string) string { return demoYAML(emu, "127.0.0.1:0", secret, ca, "") })
	logPath := filepath.Join(t.TempDir(), "stdout.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", cfgPath}, f, f) }()

	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		data, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(data), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "mdegate listening" {
				url = "http://" + m["listen"].(string)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start:\n%s", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	const calls = 200
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", url+"/api/machines", nil)
			req.Header.Set("X-Tenant-ID", []string{"contoso", "fabrikam"}[i%2])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	requests := 0
	var last string
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON (split or interleaved): %q", line)
		}
		if m["message"] == "request" {
			requests++
		}
		last, _ = m["message"].(string)
	}
	if requests != calls {
		t.Errorf("got %d request lines, want %d", requests, calls)
	}
	if last != "stopped" {
		t.Errorf("last line is %q, want \"stopped\"", last)
	}
	for _, n := range []string{secret, "Bearer ", "eyJ"} {
		if strings.Contains(string(data), n) {
			t.Errorf("the log holds a secret or token (%.12s...)", n)
		}
	}
}

// appendStamp lays a time out exactly as time.Time.AppendFormat(jsonTimeFormat) does in UTC.
func TestAppendStamp(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{
		time.Date(2026, 12, 6, 2, 15, 9, 7_654_321, time.UTC),
		time.Date(1999, 1, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 30, 0, 1_000_000, cet), // 2025-12-31T23:30 in UTC
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(47, 3, 4, 5, 6, 7, 80_000_000, time.UTC),
	} {
		want := string(tm.UTC().AppendFormat(nil, jsonTimeFormat))
		if got := string(appendStamp(nil, tm)); got != want {
			t.Errorf("appendStamp(%v) = %q, want %q", tm, got, want)
		}
	}
}

func BenchmarkAppendStamp(b *testing.B) {
	var buf [32]byte
	now := time.Now()
	b.Run("appendStamp", func(b *testing.B) {
		for b.Loop() {
			_ = appendStamp(buf[:0], now)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			_ = now.UTC().AppendFormat(buf[:0], jsonTimeFormat)
		}
	})
}
