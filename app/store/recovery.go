package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The recovery of missed deliveries (migration 0010): a lease so that one
// replica at a time pages through GitHub's delivery log, and the GUIDs it
// asked GitHub to redeliver, so that none is asked twice.

// AcquireLease takes the task's lease for holder until ttl from now, unless
// another holder's lease is still running. It returns whether it got it and
// when the task's last pass completed (zero if never).
func (q Queries) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, time.Time, error) {
	now := time.Now()
	var last int64
	err := q.db.queryRow(ctx, `INSERT INTO task_leases (name, holder, until_ms) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
		WHERE task_leases.until_ms < $4 OR task_leases.holder = excluded.holder
		RETURNING last_done_ms`, name, holder, now.Add(ttl).UnixMilli(), now.UnixMilli()).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	if last == 0 {
		return true, time.Time{}, nil
	}
	return true, time.UnixMilli(last), nil
}

// ReleaseLease gives the task's lease up; a non-zero done records when the
// pass that held it completed.
func (q Queries) ReleaseLease(ctx context.Context, name, holder string, done time.Time) error {
	var ms any
	if !done.IsZero() {
		ms = done.UnixMilli()
	}
	_, err := q.db.exec(ctx, `UPDATE task_leases SET until_ms = 0, last_done_ms = COALESCE($3, last_done_ms)
		WHERE name = $1 AND holder = $2`, name, holder, ms)
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// RecordRedeliveryRequest records that the delivery guid is being asked
// for again (through the delivery log's attempt hookID), and reports false
// when it was asked before.
func (q Queries) RecordRedeliveryRequest(ctx context.Context, guid string, hookID int64, event string, at time.Time) (bool, error) {
	n, err := q.db.exec(ctx, `INSERT INTO redelivery_requests (guid, hook_delivery_id, event, requested_ms)
		VALUES ($1, $2, $3, $4) ON CONFLICT (guid) DO NOTHING`, guid, hookID, event, at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("record redelivery of %s: %w", guid, err)
	}
	return n == 1, nil
}

// ForgetRedeliveryRequest removes the record of a request GitHub refused
// or never received, so that a later pass asks again.
func (q Queries) ForgetRedeliveryRequest(ctx context.Context, guid string) error {
	if _, err := q.db.exec(ctx, `DELETE FROM redelivery_requests WHERE guid = $1`, guid); err != nil {
		return fmt.Errorf("forget redelivery of %s: %w", guid, err)
	}
	return nil
}

// RedeliveriesRequested returns which of guids were asked for before.
func (q Queries) RedeliveriesRequested(ctx context.Context, guids []string) (map[string]bool, error) {
	out, err := q.present(ctx, "redelivery_requests", "guid", guids)
	if err != nil {
		return nil, fmt.Errorf("look up redelivery requests: %w", err)
	}
	return out, nil
}
