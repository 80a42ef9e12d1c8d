package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrationFiles holds one directory per dialect (migrations/sqlite,
// migrations/postgres) of files named NNNN_what.sql. Add a table by adding
// the next number to both directories.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// schemaMigrationsDDL records which of our migrations ran, per dialect.
var schemaMigrationsDDL = map[string]string{
	DriverSQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
	DriverPostgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
}

// pgMigrateLock and pgMigrateUnlock serialize migrations between processes
// sharing a Postgres schema: the key is derived from the schema, so test
// runs in separate schemas do not wait on each other.
const (
	pgMigrateLockKey = `hashtextextended('gatehouse.migrate:' || coalesce(current_schema(), ''), 0)`
	pgMigrateLock    = `SELECT pg_advisory_lock(` + pgMigrateLockKey + `)`
	pgMigrateUnlock  = `SELECT pg_advisory_unlock(` + pgMigrateLockKey + `)`
)

// loadMigrations reads the dialect's migrations in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var ms []migration
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok || e.IsDir() {
			continue
		}
		num, name, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive number", dir, e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s: version %d appears twice", dir, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies our pending migrations, then river's.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.driver)
	if err != nil {
		return err
	}
	if s.pool != nil {
		return s.migratePostgres(ctx, ms)
	}
	inTx := func(ctx context.Context, fn func(dbtx) error) error {
		return s.InTx(ctx, func(tx *Tx) error { return fn(tx.db) })
	}
	// The data directory lock already keeps other processes out.
	if err := applyMigrations(ctx, s.log, s.db, inTx, schemaMigrationsDDL[s.driver], ms); err != nil {
		return err
	}
	m, err := rivermigrate.New(riversqlite.New(s.sqlDB), &rivermigrate.Config{Logger: s.log.With(slog.String("component", "rivermigrate"))})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// migratePostgres runs the migrations holding a session advisory lock, so
// that of several replicas starting at once one migrates and the others
// wait, then find nothing left to do.
func (s *Store) migratePostgres(ctx context.Context, ms []migration) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, pgMigrateLock); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), pgMigrateUnlock); uerr != nil {
			// Never hand a connection still holding the lock back to the pool.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			s.log.WarnContext(ctx, "release migration lock", slog.String("err", uerr.Error()))
		}
	}()

	inTx := func(ctx context.Context, fn func(dbtx) error) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err := fn(pgxDBTX{tx}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	if err := applyMigrations(ctx, s.log, pgxDBTX{conn}, inTx, schemaMigrationsDDL[s.driver], ms); err != nil {
		return err
	}
	// River's migrator runs each of its versions in its own transaction on
	// other pool connections; our lock, held above, keeps replicas out.
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: s.log.With(slog.String("component", "rivermigrate"))})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// applyMigrations creates schema_migrations if needed and applies each
// migration not yet recorded there, each in its own transaction together
// with its record.
func applyMigrations(ctx context.Context, log *slog.Logger, db dbtx, inTx func(context.Context, func(dbtx) error) error, ddl string, ms []migration) error {
	if _, err := db.exec(ctx, ddl); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := inTx(ctx, func(tx dbtx) error {
			if _, err := tx.exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.version, m.name, err)
		}
		log.InfoContext(ctx, "applied migration", slog.Int("version", m.version), slog.String("name", m.name))
	}
	if len(ms) > 0 {
		newest := ms[len(ms)-1].version
		for v := range applied {
			if v > newest {
				log.WarnContext(ctx, "database schema is newer than this binary",
					slog.Int("database_version", v), slog.Int("binary_version", newest))
				break
			}
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, db dbtx) (map[int]bool, error) {
	rows, err := db.query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}
