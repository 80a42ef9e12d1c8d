package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// cacheBatch bounds the keys of one lookup (SQLite and Postgres both take
// far more parameters; this keeps statements small).
const cacheBatch = 500

// CachedUnits returns the cached results of the unit keys found.
func (q Queries) CachedUnits(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for start := 0; start < len(keys); start += cacheBatch {
		batch := keys[start:min(start+cacheBatch, len(keys))]
		args := make([]any, len(batch))
		marks := make([]string, len(batch))
		for i, k := range batch {
			args[i] = k
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		rs, err := q.db.query(ctx, `SELECT unit_key, result FROM finding_cache WHERE unit_key IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("finding cache lookup: %w", err)
		}
		for rs.Next() {
			var k string
			var b []byte
			if err := rs.Scan(&k, &b); err != nil {
				rs.Close()
				return nil, fmt.Errorf("finding cache lookup: %w", err)
			}
			out[k] = b
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("finding cache lookup: %w", err)
		}
	}
	return out, nil
}

// PutCachedUnits stores one check's unit results computed with engineKey,
// drops that check's rows of any other engine key (a new engine or DB
// version invalidates them), and deletes the oldest rows past maxRows
// (0: no bound), in one transaction.
func (s *Store) PutCachedUnits(ctx context.Context, check, engineKey string, units map[string][]byte, maxRows int) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.putCachedUnits(ctx, check, engineKey, units, maxRows) })
}

func (q Queries) putCachedUnits(ctx context.Context, check, engineKey string, units map[string][]byte, maxRows int) error {
	now := time.Now().UTC()
	for k, b := range units {
		if _, err := q.db.exec(ctx, `INSERT INTO finding_cache (unit_key, check_name, engine_key, result, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (unit_key) DO NOTHING`, k, check, engineKey, b, now); err != nil {
			return fmt.Errorf("finding cache put: %w", err)
		}
	}
	if _, err := q.db.exec(ctx, `DELETE FROM finding_cache WHERE check_name = $1 AND engine_key <> $2`, check, engineKey); err != nil {
		return fmt.Errorf("finding cache invalidate: %w", err)
	}
	if maxRows <= 0 {
		return nil
	}
	var n int
	if err := q.db.queryRow(ctx, `SELECT COUNT(*) FROM finding_cache`).Scan(&n); err != nil {
		return fmt.Errorf("finding cache size: %w", err)
	}
	if n <= maxRows {
		return nil
	}
	if _, err := q.db.exec(ctx, `DELETE FROM finding_cache WHERE unit_key IN
		(SELECT unit_key FROM finding_cache ORDER BY created_at, unit_key LIMIT $1)`, n-maxRows); err != nil {
		return fmt.Errorf("finding cache evict: %w", err)
	}
	return nil
}
