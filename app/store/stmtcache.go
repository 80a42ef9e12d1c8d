package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"
)

// stmtCacheSize bounds the statements kept per SQLite connection. river and
// gatehouse together run a few dozen distinct fixed statements.
const stmtCacheSize = 128

// maxCachedArgs: a statement with more parameters is not kept. Multi-row
// inserts and IN lists (InsertDeliveries, present) have a text per batch
// size, up to thousands of parameters: kept, each size would hold memory
// and push the fixed statements out.
const maxCachedArgs = 32

// cachingConnector opens SQLite connections that keep their prepared
// statements by SQL text.
//
// Hand-written because nothing else does it for this driver: river's SQLite
// driver, like gatehouse's own queries, runs SQL text through
// db.QueryContext and db.ExecContext; database/sql keeps prepared
// statements only for a *sql.Stmt, and modernc's driver parses and plans
// the text again on every call. At 2,000 deliveries a second that parse
// (river's bulk insert for every batch, its fetch and completion for every
// poll) was a fifth of the process's CPU. pgx keeps such a cache for
// Postgres itself.
type cachingConnector struct {
	driver.Connector
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cx, ok := conn.(contextConn)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("sqlite driver: connection lacks a context interface the statement cache needs")
	}
	cc := &cachingConn{contextConn: cx}
	cc.stmts, _ = lru.NewLRU(stmtCacheSize, func(_ string, s *cachedStmt) {
		s.evicted = true
		if !s.busy {
			_ = s.stmt.Close()
		}
	})
	return cc, nil
}

// contextConn is what the cache needs of the driver's connection.
type contextConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
}

// cachingConn is one connection and its statements. database/sql uses a
// connection from one goroutine at a time, so it needs no lock; but a
// statement's rows may still be open when the same text runs again (a
// query inside another's loop), so a busy statement is not reused: that
// run gets a statement of its own, closed after it.
type cachingConn struct {
	contextConn
	stmts  *lru.LRU[string, *cachedStmt]
	closed bool
}

type cachedStmt struct {
	stmt    driver.Stmt
	busy    bool // rows of it are open
	evicted bool // dropped from the cache: close once not busy
}

var (
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
)

// stmt returns the cached statement for query, preparing and caching it
// the first time, or (own) a statement of its own when the cached one is
// busy or query has more than maxCachedArgs parameters.
func (c *cachingConn) stmt(ctx context.Context, query string, args int) (s *cachedStmt, own bool, err error) {
	if args <= maxCachedArgs {
		if s, ok := c.stmts.Get(query); ok && !s.busy {
			return s, false, nil
		} else if !ok {
			st, err := c.contextConn.PrepareContext(ctx, query)
			if err != nil {
				return nil, false, err
			}
			s = &cachedStmt{stmt: st}
			c.stmts.Add(query, s)
			return s, false, nil
		}
	}
	st, err := c.contextConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	return &cachedStmt{stmt: st}, true, nil
}

// release ends a use of s. After the connection closed, the statements are
// gone with it (database/sql closes no connection while rows are open).
func (c *cachingConn) release(s *cachedStmt, own bool) {
	s.busy = false
	if (own || s.evicted) && !c.closed {
		_ = s.stmt.Close()
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, own, err := c.stmt(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	s.busy = true
	defer c.release(s, own)
	return s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, own, err := c.stmt(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	s.busy = true
	rows, err := s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.release(s, own)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() { c.release(s, own) }}, nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.contextConn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.contextConn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.contextConn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	c.stmts.Purge() // the eviction callback closes each one not busy
	c.closed = true
	return c.contextConn.Close()
}

// cachedRows gives its statement back when closed.
type cachedRows struct {
	driver.Rows
	closed  bool
	release func()
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.release()
	return err
}

// The column type methods are passed on when the driver's rows have them.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
