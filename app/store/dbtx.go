package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dbtx is the one seam between the typed queries and the two databases: it
// runs SQL written once, with Postgres-style $1, $2… placeholders, on a pool
// or inside a transaction of either driver. A new query is a method on
// Queries that calls these three; nothing else needs to know the driver.
type dbtx interface {
	// exec runs a statement and returns the number of rows it affected.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	// query runs a statement returning rows; the caller closes them.
	query(ctx context.Context, query string, args ...any) (rows, error)
	// queryRow runs a statement returning at most one row. Scan returns an
	// error matching sql.ErrNoRows when there is none, on both drivers.
	queryRow(ctx context.Context, query string, args ...any) row
}

type row interface {
	Scan(dest ...any) error
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// sqlRunner is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqliteDBTX runs queries on SQLite through database/sql.
type sqliteDBTX struct{ r sqlRunner }

func (d sqliteDBTX) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.r.ExecContext(ctx, sqlitePlaceholders(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d sqliteDBTX) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := d.r.QueryContext(ctx, sqlitePlaceholders(query), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (d sqliteDBTX) queryRow(ctx context.Context, query string, args ...any) row {
	return d.r.QueryRowContext(ctx, sqlitePlaceholders(query), args...)
}

// sqlRows adapts *sql.Rows to rows (whose Close reports nothing: the error
// that matters surfaces in Err).
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// pgxRunner is what *pgxpool.Pool, *pgxpool.Conn and pgx.Tx have in common.
type pgxRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgxDBTX runs queries on Postgres through pgx.
type pgxDBTX struct{ r pgxRunner }

func (d pgxDBTX) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.r.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (d pgxDBTX) query(ctx context.Context, query string, args ...any) (rows, error) {
	return d.r.Query(ctx, query, args...)
}

func (d pgxDBTX) queryRow(ctx context.Context, query string, args ...any) row {
	return d.r.QueryRow(ctx, query, args...)
}

// sqlitePlaceholders rewrites Postgres-style $N placeholders into SQLite's
// explicit ?N form, leaving quoted strings and identifiers alone. SQLite
// would read "$1" as a named parameter bound by order of appearance, which
// breaks a query that uses $2 before $1 or $1 twice; ?N is positional.
func sqlitePlaceholders(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query))
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '$' && i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9':
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}
