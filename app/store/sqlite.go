package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite" // the pure-Go SQLite database/sql driver
)

// SQLiteFile is the database file's name under the data directory.
const SQLiteFile = "gatehouse.db"

// sqlitePragmas are applied to every connection: WAL so readers do not block
// the writer, a busy timeout instead of immediate "database is locked",
// foreign keys on (SQLite's default is off), and synchronous NORMAL: in WAL
// mode a committed transaction survives a process crash (kill -9) because it
// is in the WAL file; only an OS crash or power cut can lose the last few.
// FULL (an fsync per commit) capped intake below 500 deliveries a second on
// these machines; operators who need power-cut durability run Postgres.
// _txlock=immediate takes the write lock at BEGIN, so a transaction never
// fails half-way when upgrading from reader to writer.
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

func openSQLite(ctx context.Context, dataDir string, log *slog.Logger) (*Store, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("open sqlite: no data directory configured (set GATEHOUSE_DATA_DIR or a Postgres URL)")
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: data directory %q: %w", dataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: create data directory: %w", err)
	}
	path := filepath.Join(dir, SQLiteFile)
	lock, err := lockDataDir(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	if err := ownerOnly(path); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: sqlitePragmas}).String()
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{connector})
	// SQLite runs one writer at a time and answers a second concurrent one
	// with SQLITE_BUSY; river's SQLite driver asks for a single connection so
	// that its background services queue up in the pool instead.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s := &Store{
		Queries: Queries{sqliteDBTX{db}},
		driver:  DriverSQLite,
		log:     log,
		sqlDB:   db,
		lock:    lock,
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if mode != "wal" {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite %s: journal mode is %q, want wal (is the file on a network filesystem?)", path, mode)
	}
	log.InfoContext(ctx, "store opened", slog.String("driver", DriverSQLite), slog.String("path", path))
	return s, nil
}

// ownerOnly makes the database readable and writable by its owner alone:
// it holds webhook payloads, findings and the queue's jobs, and the data
// directory is searchable by the sandbox user. SQLite creates a new file
// 0644 (less the umask) and gives the -wal and -shm files the mode of the
// database file, so the file is created here, 0600, before SQLite opens
// it; files left 0644 by an older version are narrowed too.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("restrict %s to its owner: %w", filepath.Base(p), err)
		}
	}
	return nil
}

// openSQLiteReadOnly opens the data directory's database read-only. SQLite
// in WAL mode lets readers in beside the writer, in other processes too:
// the lock file, taken by the owner, is left alone.
func openSQLiteReadOnly(ctx context.Context, dataDir string, log *slog.Logger) (*Store, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("open sqlite: no data directory configured (set GATEHOUSE_DATA_DIR or a Postgres URL)")
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: data directory %q: %w", dataDir, err)
	}
	path := filepath.Join(dir, SQLiteFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w (has gatehouse serve run with this data directory?)", path, err)
	}
	q := "mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{Queries: Queries{sqliteDBTX{db}}, driver: DriverSQLite, log: log, sqlDB: db}
	if err := db.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite %s read-only: %w", path, err)
	}
	log.InfoContext(ctx, "store opened read-only", slog.String("driver", DriverSQLite), slog.String("path", path))
	return s, nil
}
