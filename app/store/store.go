// Package store is gatehouse's durable state: one code base over two
// databases, embedded SQLite (the default, a file under the data directory)
// and Postgres (to run several replicas). It opens the database, runs the
// schema migrations (gatehouse's own and the queue's), and holds the typed
// queries every other package uses.
//
// Queries are methods on Queries, written once with $1, $2… placeholders and
// run by Store on the pool or by Tx inside a transaction, so the same method
// works in and out of a transaction and on both databases.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Driver names, as returned by Store.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// ErrNotFound is returned (wrapped) when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Config says which database to open.
type Config struct {
	// URL is empty for SQLite under DataDir, or a postgres:// (postgresql://)
	// connection URL. It may hold a password: it is never logged.
	URL string
	// DataDir holds gatehouse.db and its lock file when URL is empty.
	DataDir string
	// Logger receives migration and lifecycle logs; nil discards them.
	Logger *slog.Logger
	// ReadOnly opens an existing SQLite database for reading only, beside
	// the process that owns it (a running serve): no lock, no migration,
	// no write. The evidence commands use it so that an audit never needs
	// the gate stopped. Postgres is opened as usual.
	ReadOnly bool
}

// Store is an open database with gatehouse's schema applied.
type Store struct {
	Queries

	driver string
	log    *slog.Logger

	sqlDB *sql.DB       // SQLite
	pool  *pgxpool.Pool // Postgres
	lock  io.Closer     // SQLite: the data directory's process lock
	once  sync.Once     // Close runs once
	cerr  error         // Close's result
}

// Queries holds the typed queries. Store and Tx embed it, so every query
// runs either on the pool or inside a transaction.
type Queries struct {
	db dbtx
}

// Tx is an open transaction. Use its query methods (not the Store's) inside
// Store.InTx: on SQLite the pool has a single connection, which the
// transaction holds until it ends.
type Tx struct {
	Queries

	sqlTx *sql.Tx
	pgxTx pgx.Tx
}

// Open opens the database cfg names, applies pending migrations and returns
// the Store. On Postgres, replicas starting together migrate once (an
// advisory lock serializes them). On SQLite only one process may open a data
// directory at a time; a second gets an error saying so.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		s   *Store
		err error
	)
	switch {
	case cfg.URL == "" && cfg.ReadOnly:
		return openSQLiteReadOnly(ctx, cfg.DataDir, log)
	case cfg.URL == "":
		s, err = openSQLite(ctx, cfg.DataDir, log)
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		s, err = openPostgres(ctx, cfg.URL, log)
	default:
		scheme, _, _ := strings.Cut(cfg.URL, ":")
		return nil, fmt.Errorf("open store: unsupported database URL scheme %q (want empty for SQLite or postgres://)", scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store: migrate %s: %w", s.driver, err)
	}
	return s, nil
}

// Driver names the database in use: DriverSQLite or DriverPostgres.
func (s *Store) Driver() string { return s.driver }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var err error
	if s.pool != nil {
		err = s.pool.Ping(ctx)
	} else {
		err = s.sqlDB.PingContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("ping %s: %w", s.driver, err)
	}
	return nil
}

// Close closes the pool and, on SQLite, releases the data directory. Stop
// the queue first: its workers use the pool.
func (s *Store) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.pool != nil {
			s.pool.Close()
		}
		if s.sqlDB != nil {
			errs = append(errs, s.sqlDB.Close())
		}
		if s.lock != nil {
			errs = append(errs, s.lock.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.cerr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.cerr
}

// SQLDB is the SQLite pool (one connection), for the queue's SQLite driver;
// nil on Postgres.
func (s *Store) SQLDB() *sql.DB { return s.sqlDB }

// PgxPool is the Postgres pool, for the queue's Postgres driver; nil on
// SQLite.
func (s *Store) PgxPool() *pgxpool.Pool { return s.pool }

// SQLTx is the transaction on SQLite (for the queue's driver); nil on
// Postgres.
func (tx *Tx) SQLTx() *sql.Tx { return tx.sqlTx }

// PgxTx is the transaction on Postgres (for the queue's driver); nil on
// SQLite.
func (tx *Tx) PgxTx() pgx.Tx { return tx.pgxTx }

// InTx runs fn in a transaction, committed when fn returns nil and rolled
// back when it returns an error or panics.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	var (
		tx       *Tx
		commit   func() error
		rollback func() error
	)
	if s.pool != nil {
		ptx, err := s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		tx = &Tx{Queries: Queries{pgxDBTX{ptx}}, pgxTx: ptx}
		commit = func() error { return ptx.Commit(ctx) }
		// A fresh context: a cancelled ctx must not leave the transaction open.
		rollback = func() error { return ptx.Rollback(context.WithoutCancel(ctx)) }
	} else {
		stx, err := s.sqlDB.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		tx = &Tx{Queries: Queries{sqliteDBTX{stx}}, sqlTx: stx}
		commit = stx.Commit
		rollback = stx.Rollback
	}

	done := false
	defer func() {
		if !done {
			_ = rollback() // fn panicked; the panic continues
		}
	}()
	err := fn(tx)
	done = true
	if err != nil {
		if rerr := rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) && !errors.Is(rerr, pgx.ErrTxClosed) {
			s.log.WarnContext(ctx, "rollback failed", slog.String("err", rerr.Error()))
		}
		return err
	}
	if err := commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}
