package store

import "context"

// ExecForTest runs a statement through the store's own connection, for
// tests that show the schema refuses it.
func ExecForTest(ctx context.Context, s *Store, query string, args ...any) error {
	_, err := s.db.exec(ctx, query, args...)
	return err
}
