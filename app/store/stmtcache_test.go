package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// rawConn returns the statement cache of db's one connection.
func rawConn(t *testing.T, db *sql.DB) *cachingConn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var cc *cachingConn
	if err := conn.Raw(func(c any) error {
		var ok bool
		cc, ok = c.(*cachingConn)
		if !ok {
			return fmt.Errorf("connection is %T, not the statement cache", c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return cc
}

func openTestSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := openSQLite(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStatementCacheReusesStatements: a statement run again is the one
// prepared the first time, and gives the right answers each time.
func TestStatementCacheReusesStatements(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	db := s.sqlDB
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO t (k, v) VALUES (?, ?)`
	for i := range 50 {
		if _, err := db.ExecContext(ctx, insert, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	cc := rawConn(t, db)
	first, ok := cc.stmts.Peek(insert)
	if !ok {
		t.Fatal("the insert is not cached")
	}
	if _, err := db.ExecContext(ctx, insert, 50, "v50"); err != nil {
		t.Fatal(err)
	}
	if again, _ := cc.stmts.Peek(insert); again != first {
		t.Error("the insert was prepared again")
	}
	// A statement with many parameters (a multi-row insert, an IN list:
	// one text per batch size) is run but not kept.
	many := `SELECT count(*) FROM t WHERE k IN (?` + strings.Repeat(`, ?`, maxCachedArgs) + `)`
	args := make([]any, maxCachedArgs+1)
	for i := range args {
		args[i] = i
	}
	var n int
	if err := db.QueryRowContext(ctx, many, args...).Scan(&n); err != nil || n != maxCachedArgs+1 {
		t.Fatalf("IN list: %d, %v", n, err)
	}
	if _, kept := cc.stmts.Peek(many); kept {
		t.Errorf("a statement of %d parameters was cached", maxCachedArgs+1)
	}
	for i := range 51 {
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM t WHERE k = ?`, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("row %d = %q, %v", i, v, err)
		}
	}
}

// TestStatementCacheNestedAndEvicted: the same text run while its rows are
// still open (in a transaction, one connection) gets a statement of its
// own; a statement evicted while busy is closed once its rows are, and the
// cache keeps working past its size.
func TestStatementCacheNestedAndEvicted(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	db := s.sqlDB
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (k) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT k FROM t WHERE k >= ? ORDER BY k`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	outer, err := tx.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var k int
		if err := outer.Scan(&k); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, q, k)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d", k, n))
		if k == 2 {
			// Push q out of the cache while its outer rows are open.
			for i := range stmtCacheSize + 10 {
				var one int
				if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&one); err != nil || one != i {
					t.Fatalf("SELECT %d = %d, %v", i, one, err)
				}
			}
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "[0:5 1:4 2:3 3:2 4:1]"; fmt.Sprint(got) != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := rawConn(t, db).stmts.Len(); n != stmtCacheSize {
		t.Errorf("cached statements = %d, want the cache full (%d)", n, stmtCacheSize)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE k >= ?`, 3).Scan(&n); err != nil || n != 2 {
		t.Errorf("count after eviction = %d, %v", n, err)
	}
}
