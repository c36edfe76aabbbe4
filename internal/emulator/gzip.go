package emulator

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// acceptsGzip reports whether an Accept-Encoding value allows gzip: listed (or "*") with a
// non-zero q, and not refused by "gzip;q=0".
func acceptsGzip(header string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip", "x-gzip":
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

// gzipWriter compresses an answer as it is written (streaming: nothing is buffered beyond
// the compressor's window). Answers without a body (204, 304, 1xx) go out as they are.
type gzipWriter struct {
	http.ResponseWriter
	pool        *sync.Pool
	gz          *gzip.Writer
	wroteHeader bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.wroteHeader || code < 200 {
		g.ResponseWriter.WriteHeader(code)
		return
	}
	g.wroteHeader = true
	if code != http.StatusNoContent && code != http.StatusNotModified {
		h := g.ResponseWriter.Header()
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		if z, ok := g.pool.Get().(*gzip.Writer); ok {
			z.Reset(g.ResponseWriter)
			g.gz = z
		} else {
			g.gz, _ = gzip.NewWriterLevel(g.ResponseWriter, gzip.BestSpeed) // BestSpeed is a valid level
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK)
	}
	if g.gz == nil {
		return g.ResponseWriter.Write(p)
	}
	return g.gz.Write(p)
}

func (g *gzipWriter) Flush() {
	if g.gz != nil {
		_ = g.gz.Flush() // a failed write shows up on the next Write
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// close ends the gzip stream and returns the compressor to the pool.
func (g *gzipWriter) close() {
	if g.gz == nil {
		return
	}
	_ = g.gz.Close() // a failed write means the client is gone: nothing to do
	g.gz.Reset(nil)
	g.pool.Put(g.gz)
	g.gz = nil
}
