package store

import (
	"context"
	"time"
)

// MigrationCounts counts how often each of our migration versions is
// recorded, and how many versions river's migration table records.
func MigrationCounts(ctx context.Context, s *Store) (ours map[int]int, riverVersions int, err error) {
	ms, err := loadMigrations(s.driver)
	if err != nil {
		return nil, 0, err
	}
	ours = map[int]int{}
	for _, m := range ms {
		var n int
		if err := s.db.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
			return nil, 0, err
		}
		ours[m.version] = n
	}
	if err := s.db.queryRow(ctx, `SELECT count(*) FROM river_migration`).Scan(&riverVersions); err != nil {
		return nil, 0, err
	}
	return ours, riverVersions, nil
}

// StoredPayload returns a delivery's payload column as it is in the
// database, and RawPayloadInsert stores one there as is (as versions
// before compression did).
func StoredPayload(ctx context.Context, s *Store, id string) ([]byte, error) {
	var b []byte
	err := s.db.queryRow(ctx, `SELECT payload FROM deliveries WHERE id = $1`, id).Scan(&b)
	return b, err
}

func RawPayloadInsert(ctx context.Context, s *Store, id string, payload []byte) error {
	_, err := s.db.exec(ctx, `INSERT INTO deliveries (id, event, action, installation_id, repo, payload, received_at)
		VALUES ($1, 'issue_comment', 'created', 1, 'octo/hello', $2, $3)`, id, payload, time.Now().UTC())
	return err
}
