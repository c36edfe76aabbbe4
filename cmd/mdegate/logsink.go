package main

import (
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
)

// logSink is where every log line goes. Its level and format swap atomically on a reload, so
// long-lived loggers (the token source's, the server's) follow the new log section without
// being rebuilt.
type logSink struct {
	out    io.Writer
	buf    *logBuffer // nil when out is not worth buffering (see logbuffer.go)
	active atomic.Pointer[sinkState]
}

type sinkState struct {
	level zerolog.Level
	w     io.Writer // out, or a console writer over it
}

var _ zerolog.LevelWriter = (*logSink)(nil)

func newLogSink(out io.Writer, lc config.LogConfig) *logSink {
	s := &logSink{out: out}
	if buffers(out) {
		s.buf = newLogBuffer(out)
		s.out = s.buf
	}
	s.set(lc)
	return s
}

// set applies a log section.
func (s *logSink) set(lc config.LogConfig) {
	st := &sinkState{level: parseLevel(lc.Level), w: s.out}
	if lc.Format == "console" {
		st.w = zerolog.ConsoleWriter{Out: s.out, TimeFormat: time.RFC3339}
	}
	s.active.Store(st)
}

// startBuffer gathers lines in memory until stopBuffer (logbuffer.go); the gateway's run
// owns the flusher between the two. Without a buffer both are no-ops.
func (s *logSink) startBuffer() {
	if s.buf != nil {
		s.buf.start()
	}
}

// stopBuffer writes what is pending and stops the flusher, waiting for it.
func (s *logSink) stopBuffer() {
	if s.buf != nil {
		s.buf.stop()
	}
}

func (s *logSink) Write(p []byte) (int, error) { return s.active.Load().w.Write(p) }

func (s *logSink) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	st := s.active.Load()
	if l < st.level {
		return len(p), nil
	}
	return st.w.Write(p)
}

// logger is a logger over the sink. Its own level stays open: the sink filters, so the level
// can change under it.
func (s *logSink) logger() zerolog.Logger {
	return zerolog.New(s).Level(zerolog.TraceLevel).With().Timestamp().Logger()
}

func parseLevel(name string) zerolog.Level {
	level, err := zerolog.ParseLevel(strings.ToLower(name))
	if err != nil || name == "" {
		return zerolog.InfoLevel
	}
	return level
}
