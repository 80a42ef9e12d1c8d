package secrets

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"

	"github.com/rs/zerolog"
	gllog "github.com/zricethezav/gitleaks/v8/logging"
)

// routeGitleaksLogs sends gitleaks' warnings and errors (a git command that
// failed, an unreadable file) to slog instead of its console writer on
// stderr. gitleaks only offers this as a package variable; the level stays
// at warn so its debug lines, some of which carry secrets, are never built.
func routeGitleaksLogs() {
	gllog.Logger = zerolog.New(slogWriter{}).Level(zerolog.WarnLevel)
}

// slogWriter turns zerolog's JSON lines into slog records on the default
// logger, looked up at write time so tests and main can replace it.
type slogWriter struct{}

func (slogWriter) Write(p []byte) (int, error) {
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		slog.Warn("gitleaks", "engine", "gitleaks", "raw", string(p))
		return len(p), nil
	}
	level := slog.LevelDebug
	switch fields[zerolog.LevelFieldName] {
	case "warn":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	case "info":
		level = slog.LevelInfo
	}
	msg, _ := fields[zerolog.MessageFieldName].(string)
	delete(fields, zerolog.LevelFieldName)
	delete(fields, zerolog.MessageFieldName)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := []any{"engine", "gitleaks"}
	for _, k := range keys {
		attrs = append(attrs, k, fields[k])
	}
	slog.Default().Log(context.Background(), level, msg, attrs...)
	return len(p), nil
}
