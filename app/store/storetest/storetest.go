// Package storetest opens throwaway stores for tests, on both databases:
// SQLite in a temporary directory and Postgres in a freshly created schema
// of the test database, dropped when the test ends, so parallel test runs
// never see each other's rows.
//
// Postgres is expected at 127.0.0.1:5432 (trust auth, user postgres or root,
// database test). Set GATEHOUSE_TEST_POSTGRES to a postgres:// URL to use
// another server, or to "skip" to run the SQLite half only; otherwise an
// unreachable Postgres fails the test.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/app/store"
)

// EnvPostgres names the environment variable that points the tests at a
// Postgres server ("postgres://…") or skips Postgres ("skip").
const EnvPostgres = "GATEHOUSE_TEST_POSTGRES"

// defaultURLs are tried in order when EnvPostgres is unset.
var defaultURLs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
}

// Drivers lists the databases every store-backed test runs against.
func Drivers() []string { return []string{store.DriverSQLite, store.DriverPostgres} }

// Run runs fn as one subtest per driver.
func Run(t *testing.T, fn func(t *testing.T, driver string)) {
	t.Helper()
	for _, d := range Drivers() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Config returns a store configuration for a fresh, empty database of the
// given driver: a new temporary data directory, or a new Postgres schema
// selected through the URL's search_path. Opening it several times (even
// from a subprocess) reaches the same database.
func Config(t testing.TB, driver string) store.Config {
	t.Helper()
	switch driver {
	case store.DriverSQLite:
		return store.Config{DataDir: t.TempDir(), Logger: Logger(t)}
	case store.DriverPostgres:
		return store.Config{URL: freshSchema(t), Logger: Logger(t)}
	}
	t.Fatalf("storetest: unknown driver %q", driver)
	return store.Config{}
}

// Open opens a store on a fresh database and closes it when the test ends.
func Open(t testing.TB, driver string) *store.Store {
	t.Helper()
	return OpenConfig(t, Config(t, driver))
}

// OpenConfig opens a store with cfg and closes it when the test ends.
func OpenConfig(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s store: %v", driverOf(cfg), err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Exec runs raw SQL on the database cfg names through a connection of its
// own, outside the store: for tests that need to break or inspect the
// database behind the store's back.
func Exec(t testing.TB, cfg store.Config, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cfg.URL != "" {
		conn, err := pgx.Connect(ctx, cfg.URL)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("exec %q: %v", sql, err)
		}
		return
	}
	if err := execSQLite(ctx, cfg.DataDir, sql); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Logger returns a logger writing through t.Log, so a failing test shows
// what the store and queue logged.
func Logger(t testing.TB) *slog.Logger { return newLogger(t) }

func driverOf(cfg store.Config) string {
	if cfg.URL != "" {
		return store.DriverPostgres
	}
	return store.DriverSQLite
}

// freshSchema creates a uniquely named schema and returns a URL whose
// search_path selects it; the schema is dropped when the test ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	env := os.Getenv(EnvPostgres)
	if env == "skip" {
		t.Skipf("Postgres skipped (%s=skip)", EnvPostgres)
	}
	candidates := defaultURLs
	if env != "" {
		candidates = []string{env}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var (
		conn    *pgx.Conn
		base    string
		errs    []string
		connErr error
	)
	for _, u := range candidates {
		conn, connErr = pgx.Connect(ctx, u)
		if connErr == nil {
			base = u
			break
		}
		errs = append(errs, connErr.Error())
	}
	if conn == nil {
		t.Fatalf("Postgres is unreachable (%s); start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), "+
			"point %s at a server, or set %s=skip", strings.Join(errs, "; "), EnvPostgres, EnvPostgres)
	}
	defer func() { _ = conn.Close(ctx) }()

	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "gatehouse_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
