package deps

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"strings"

	tlog "github.com/aquasecurity/trivy/pkg/log"
)

// RouteLogs makes l the logger trivy writes to, with trivy's own lines
// (the dependencies and IaC checks both run trivy's code) wrapped by
// LogHandler. trivy's pkg/log is log/slog: it logs through slog's default
// logger, which it sets at init to a handler that buffers every line until
// trivy's CLI installs its own. A program that loads the engines calls this
// first; gatehouse's own lines through slog's default pass unchanged.
func RouteLogs(l *slog.Logger) {
	tlog.SetDefault(tlog.New(LogHandler(l.Handler())))
}

// LogHandler wraps h so that a line trivy's code logs reads as one of
// gatehouse's, at the level it means for a gatehouse user:
//
//   - an ERROR is a WARN at most: trivy logs as errors what it could not
//     parse ("Failed to load module. Maybe try 'terraform init'?"), which
//     for a gate is a note about the repository, not a failure of the
//     scan (a check that cannot complete says so in its result);
//   - an INFO is a DEBUG: trivy's progress lines are for its CLI's user;
//   - trivy's "[terraform parser] " prefixes become component="terraform
//     parser", and each line says engine=trivy.
//
// A line is trivy's when the code that logged it is in an aquasecurity
// module, or its logger carries a trivy prefix. Other lines pass unchanged.
// Attributes trivy keeps only in a context (log.WithContextAttrs) are not
// carried: trivy offers no way to read them.
func LogHandler(h slog.Handler) slog.Handler { return &trivyHandler{inner: h} }

// prefixType is the type of trivy's prefix attribute values, which are
// what tell its prefixes from any other "prefix" attribute.
var prefixType = reflect.TypeOf(tlog.Prefix("").Value.Any())

// prefixProbe reads a record's prefix (its own attribute, else its
// context's) with trivy's exported accessor; it writes nothing.
var prefixProbe = tlog.NewHandler(io.Discard, nil)

type trivyHandler struct {
	inner slog.Handler
	// prefix is the last trivy prefix given to With ("" for none), as
	// trivy's handler keeps the last one.
	prefix string
}

// Enabled asks h at the record's own level: a trivy line only goes down.
func (t *trivyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.inner.Enabled(ctx, l)
}

func (t *trivyHandler) Handle(ctx context.Context, r slog.Record) error {
	prefix := prefixProbe.Prefix(ctx, r)
	if prefix == "" {
		prefix = t.prefix
	}
	if prefix == "" && !fromTrivy(r.PC) {
		return t.inner.Handle(ctx, r)
	}
	level := r.Level
	switch {
	case level >= slog.LevelError:
		level = slog.LevelWarn
	case level < slog.LevelWarn && level > slog.LevelDebug:
		level = slog.LevelDebug
	}
	if !t.inner.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	out.AddAttrs(slog.String("engine", "trivy"))
	if c := strings.TrimSuffix(strings.TrimPrefix(prefix, "["), "] "); c != "" {
		out.AddAttrs(slog.String("component", c))
	}
	r.Attrs(func(a slog.Attr) bool {
		if !isPrefix(a) {
			out.AddAttrs(a)
		}
		return true
	})
	return t.inner.Handle(ctx, out)
}

func (t *trivyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	next := *t
	rest := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if isPrefix(a) {
			next.prefix = a.Value.String()
		} else {
			rest = append(rest, a)
		}
	}
	if len(rest) > 0 {
		next.inner = t.inner.WithAttrs(rest)
	}
	return &next
}

func (t *trivyHandler) WithGroup(name string) slog.Handler {
	next := *t
	next.inner = t.inner.WithGroup(name)
	return &next
}

func isPrefix(a slog.Attr) bool {
	return a.Value.Kind() == slog.KindAny && reflect.TypeOf(a.Value.Any()) == prefixType
}

// fromTrivy says whether the function at pc, the code that logged a
// record, is in one of aquasecurity's modules (trivy, trivy-db, …).
func fromTrivy(pc uintptr) bool {
	if pc == 0 {
		return false
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return strings.HasPrefix(f.Function, "github.com/aquasecurity/")
}
