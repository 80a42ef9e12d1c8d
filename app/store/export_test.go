package store

import "context"

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
