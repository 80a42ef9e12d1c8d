package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GitHub's limits are per installation, so replicas keep them here
// (migration 0005): a pause after a rate limit, and the slots of the scans
// running for each installation. Times are Unix milliseconds, which compare
// the same way on both databases.

// PauseInstallation records that the installation should not be called
// before until (GitHub said so: a rate limit). A shorter pause never
// replaces a longer one.
func (q Queries) PauseInstallation(ctx context.Context, id int64, until time.Time, reason string) error {
	_, err := q.db.exec(ctx, `INSERT INTO installation_limits (installation_id, paused_until_ms, pause_reason, updated_ms)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (installation_id) DO UPDATE SET paused_until_ms = excluded.paused_until_ms,
			pause_reason = excluded.pause_reason, updated_ms = excluded.updated_ms
		WHERE installation_limits.paused_until_ms < excluded.paused_until_ms`,
		id, until.UnixMilli(), reason, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("pause installation %d: %w", id, err)
	}
	return nil
}

// InstallationPause returns the end of the installation's latest pause and
// its reason (the zero time when it was never paused). It may be in the past.
func (q Queries) InstallationPause(ctx context.Context, id int64) (time.Time, string, error) {
	var (
		ms     int64
		reason string
	)
	err := q.db.queryRow(ctx, `SELECT paused_until_ms, pause_reason FROM installation_limits WHERE installation_id = $1`, id).Scan(&ms, &reason)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && ms == 0) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("pause of installation %d: %w", id, err)
	}
	return time.UnixMilli(ms), reason, nil
}

// AcquireInstallationSlot claims one of the installation's limit slots for
// holder until ttl from now, unless limit other holders have one already.
// A holder that has a slot gets it again (its expiry renewed): a job retried
// after its worker died reclaims its own slot. Slots past their expiry are
// freed. Concurrent claims from any number of processes are serialized on
// the installation's row, so no more than limit are ever granted.
func (s *Store) AcquireInstallationSlot(ctx context.Context, id int64, holder string, limit int, ttl time.Duration) (bool, error) {
	now := time.Now()
	ok := false
	err := s.InTx(ctx, func(tx *Tx) error {
		// Lock the installation's row (Postgres: a row lock until commit;
		// SQLite: the write lock), so counts below see every other claim.
		if _, err := tx.db.exec(ctx, `INSERT INTO installation_limits (installation_id, updated_ms) VALUES ($1, $2)
			ON CONFLICT (installation_id) DO UPDATE SET updated_ms = excluded.updated_ms`, id, now.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.db.exec(ctx, `DELETE FROM installation_slots WHERE installation_id = $1 AND expires_ms <= $2`, id, now.UnixMilli()); err != nil {
			return err
		}
		var others int64
		if err := tx.db.queryRow(ctx, `SELECT count(*) FROM installation_slots WHERE installation_id = $1 AND holder <> $2`, id, holder).Scan(&others); err != nil {
			return err
		}
		if others >= int64(limit) {
			return nil
		}
		if _, err := tx.db.exec(ctx, `INSERT INTO installation_slots (installation_id, holder, expires_ms) VALUES ($1, $2, $3)
			ON CONFLICT (installation_id, holder) DO UPDATE SET expires_ms = excluded.expires_ms`, id, holder, now.Add(ttl).UnixMilli()); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("claim a slot of installation %d: %w", id, err)
	}
	return ok, nil
}

// ReleaseInstallationSlot frees holder's slot (a no-op if it has none).
func (q Queries) ReleaseInstallationSlot(ctx context.Context, id int64, holder string) error {
	if _, err := q.db.exec(ctx, `DELETE FROM installation_slots WHERE installation_id = $1 AND holder = $2`, id, holder); err != nil {
		return fmt.Errorf("release a slot of installation %d: %w", id, err)
	}
	return nil
}

// InstallationSlots counts the installation's unexpired slots.
func (q Queries) InstallationSlots(ctx context.Context, id int64) (int, error) {
	var n int64
	if err := q.db.queryRow(ctx, `SELECT count(*) FROM installation_slots WHERE installation_id = $1 AND expires_ms > $2`,
		id, time.Now().UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count slots of installation %d: %w", id, err)
	}
	return int(n), nil
}
