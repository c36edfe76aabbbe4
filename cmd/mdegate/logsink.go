package main

import (
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
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

// set applies a log section. An unset format is console when the log goes to a terminal
// (someone is reading it), json otherwise.
func (s *logSink) set(lc config.LogConfig) {
	st := &sinkState{level: parseLevel(lc.Level), w: s.out}
	tty := s.terminal()
	if lc.Format == "console" || lc.Format == "" && tty {
		// Colours only for a terminal: escape codes in a file or a pipe are noise.
		st.w = zerolog.ConsoleWriter{Out: s.out, TimeFormat: consoleTimeFormat, NoColor: !tty}
	}
	s.active.Store(st)
}

// terminal reports whether the sink writes to a terminal.
func (s *logSink) terminal() bool {
	out := s.out
	if s.buf != nil {
		out = s.buf.out
	}
	f, ok := out.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// Timestamps: RFC 3339 in UTC with milliseconds in JSON; the time of day with milliseconds on
// a console.
const (
	jsonTimeFormat    = "2006-01-02T15:04:05.000Z07:00"
	consoleTimeFormat = "15:04:05.000"
)

// stamp is the loggers' timestamp: a hook rather than zerolog's Timestamp(), whose format is
// the process-wide zerolog.TimeFieldFormat; this one belongs to the sink's loggers alone. It
// runs only for lines that pass the level, and appends without allocating.
type stamp struct{ now func() time.Time }

func (h stamp) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	var b [len("2006-01-02T15:04:05.000Z")]byte
	e.Bytes(zerolog.TimestampFieldName, appendStamp(b[:0], h.now()))
}

// appendStamp appends t in UTC as jsonTimeFormat lays it out (2006-01-02T15:04:05.000Z), for
// years 0 to 9999. It is what time.Time.AppendFormat makes, at a tenth of the cost: every
// log line carries one, and the access line is written for every call.
func appendStamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits appends the last n decimal digits of v (v >= 0), zero-padded.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "0000"[:n]...)
	for i := len(b) - 1; i >= len(b)-n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// gate is the sink's level as a zerolog sampler: zerolog asks it before building an event,
// so a line below the level is never encoded (and Debug() returns nil), yet the level can
// change on a reload under loggers already handed out.
type gate struct{ s *logSink }

func (g gate) Sample(l zerolog.Level) bool { return l >= g.s.active.Load().level }

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

// logger is a logger over the sink. Its own level stays open; the sink's level is asked
// before each event is built (gate), so it can change under the logger.
func (s *logSink) logger() zerolog.Logger {
	return zerolog.New(s).Level(zerolog.TraceLevel).Sample(gate{s}).Hook(stamp{time.Now})
}

func parseLevel(name string) zerolog.Level {
	level, err := zerolog.ParseLevel(strings.ToLower(name))
	if err != nil || name == "" {
		return zerolog.InfoLevel
	}
	return level
}
