package store

import "testing"

func TestSQLitePlaceholders(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = $1 AND b = $2", "SELECT * FROM t WHERE a = ?1 AND b = ?2"},
		{"UPDATE t SET a = $2 WHERE id = $1 OR parent = $1", "UPDATE t SET a = ?2 WHERE id = ?1 OR parent = ?1"},
		{"SELECT '$1', \"$2\" FROM t WHERE x = $10", "SELECT '$1', \"$2\" FROM t WHERE x = ?10"},
		{"SELECT 'it''s $1' || $1", "SELECT 'it''s $1' || ?1"},
		{"SELECT $ FROM t WHERE a = $a", "SELECT $ FROM t WHERE a = $a"},
	}
	for _, tt := range tests {
		if got := sqlitePlaceholders(tt.in); got != tt.want {
			t.Errorf("sqlitePlaceholders(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
