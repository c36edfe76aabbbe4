package main

import (
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapCore carries certmagic's zap logging into the gateway's zerolog logger, so its lines go
// through the same sink: the same JSON (or console) schema with component=certmagic, the
// same log.level, the same buffer. Enabled asks the zerolog logger, so a level below
// log.level is dropped before zap encodes anything.
type zapCore struct {
	log    zerolog.Logger
	fields []zapcore.Field // from With, added to every line
}

var _ zapcore.Core = (*zapCore)(nil)

// newZapLogger is a zap logger over log.
func newZapLogger(log zerolog.Logger) *zap.Logger {
	return zap.New(&zapCore{log: log})
}

func (c *zapCore) Enabled(l zapcore.Level) bool {
	return c.log.WithLevel(zerologLevel(l)) != nil
}

func (c *zapCore) With(fields []zapcore.Field) zapcore.Core {
	return &zapCore{log: c.log, fields: append(c.fields[:len(c.fields):len(c.fields)], fields...)}
}

func (c *zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *zapCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	ev := c.log.WithLevel(zerologLevel(e.Level))
	if ev == nil {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	if e.LoggerName != "" {
		ev.Str("logger", e.LoggerName)
	}
	ev.Fields(enc.Fields).Msg(e.Message)
	return nil
}

func (c *zapCore) Sync() error { return nil }

// zerologLevel maps zap's levels onto zerolog's; zap's DPanic, Panic and Fatal are logged
// as errors (certmagic logs, it does not decide to stop the gateway).
func zerologLevel(l zapcore.Level) zerolog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return zerolog.DebugLevel
	case l == zapcore.InfoLevel:
		return zerolog.InfoLevel
	case l == zapcore.WarnLevel:
		return zerolog.WarnLevel
	default:
		return zerolog.ErrorLevel
	}
}
