package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/app/store"
)

// tbWriter forwards whole log lines to t.Log and drops those written after
// the test finished (a background goroutine still logging during shutdown
// would otherwise panic the test binary).
type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func newLogger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// execSQLite runs sql on the SQLite database under dataDir through a
// connection of its own (SQLite itself allows it; only gatehouse's lock
// file keeps a second gatehouse process out).
func execSQLite(ctx context.Context, dataDir, sqlText string) error {
	path := filepath.Join(dataDir, store.SQLiteFile)
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	_, err = db.ExecContext(ctx, sqlText)
	return err
}
