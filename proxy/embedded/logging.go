package embedded

import (
	"io"
	"slices"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// routeLogs sends distribution's log output to log and returns the function
// that stops it.
//
// This changes logrus's process-global standard logger, which cannot be
// avoided (see the package doc): level warn, so info and debug entries are
// dropped before they are built; output discarded and formatting skipped;
// and a hook that hands warn and above to zap. Level, output and formatter
// stay so after stop: nothing in the gateway wants logrus on stdout/stderr.
func routeLogs(log *zap.Logger) (stop func()) {
	std := logrus.StandardLogger()
	std.SetLevel(logrus.WarnLevel)
	std.SetOutput(io.Discard)
	std.SetFormatter(discardFormatter{})

	hook := &zapHook{}
	hook.log.Store(log.WithOptions(zap.WithCaller(false)))
	std.AddHook(hook)
	return func() {
		// Disable first: an entry racing with the removal below, or a
		// hook list replaced by a concurrent Start, then reaches no one.
		hook.log.Store(nil)
		removeHook(std, hook)
	}
}

// removeHook takes hook out of std's hooks, keeping all others.
func removeHook(std *logrus.Logger, hook logrus.Hook) {
	// ReplaceHooks is the only way to read the hooks under logrus's lock.
	old := std.ReplaceHooks(make(logrus.LevelHooks))
	kept := make(logrus.LevelHooks, len(old))
	for level, hooks := range old {
		kept[level] = slices.DeleteFunc(slices.Clone(hooks), func(h logrus.Hook) bool { return h == hook })
	}
	std.ReplaceHooks(kept)
}

// zapHook is a logrus hook that writes entries to a zap logger, turning
// logrus fields into zap fields. A nil logger drops entries.
type zapHook struct {
	log atomic.Pointer[zap.Logger]
}

var _ logrus.Hook = (*zapHook)(nil)

// Levels reports the levels routed to zap: warn and above.
func (h *zapHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

// Fire writes e to the zap logger with its fields sorted by key.
func (h *zapHook) Fire(e *logrus.Entry) error {
	log := h.log.Load()
	if log == nil {
		return nil
	}
	ce := log.Check(entryLevel(e), e.Message)
	if ce == nil {
		return nil
	}
	ce.Time = e.Time
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fields := make([]zap.Field, 0, len(keys))
	for _, k := range keys {
		if err, ok := e.Data[k].(error); ok {
			fields = append(fields, zap.NamedError(k, err))
			continue
		}
		fields = append(fields, zap.Any(k, e.Data[k]))
	}
	ce.Write(fields...)
	return nil
}

// entryLevel is the zap level of a distribution log entry. distribution
// logs every error answer at error level, a HEAD for a blob a client is
// about to push ("blob unknown", 404) included; the gateway's audit line
// already records those, so client errors (status < 500) go to debug and
// only the registry's own faults stay errors.
func entryLevel(e *logrus.Entry) zapcore.Level {
	if status, ok := e.Data["http.response.status"].(int); ok && status < 500 && e.Level <= logrus.WarnLevel {
		return zapcore.DebugLevel
	}
	return zapLevel(e.Level)
}

// zapLevel maps a logrus level to zap. Fatal and panic become error: zap's
// own fatal and panic levels would exit or panic inside the hook, before
// logrus does what its caller asked for.
func zapLevel(l logrus.Level) zapcore.Level {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		return zapcore.ErrorLevel
	case logrus.WarnLevel:
		return zapcore.WarnLevel
	case logrus.InfoLevel:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

// discardFormatter formats nothing: the standard logger's output is
// discarded, so the work of rendering entries would be wasted.
type discardFormatter struct{}

// Format returns no bytes.
func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }
