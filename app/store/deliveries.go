package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Delivery is one webhook delivery as GitHub sent it.
type Delivery struct {
	ID             string    // X-GitHub-Delivery; unique, kept by redeliveries
	Event          string    // X-GitHub-Event, e.g. "pull_request"
	Action         string    // payload "action", empty for events without one
	InstallationID int64     // payload installation.id, 0 if absent
	Repo           string    // "owner/name", empty for org-level events
	Payload        []byte    // the raw request body
	ReceivedAt     time.Time // when gatehouse accepted it (stored in UTC)
}

// InsertDelivery stores d unless a delivery with its ID is already stored,
// and reports whether it inserted it.
func (q Queries) InsertDelivery(ctx context.Context, d Delivery) (bool, error) {
	if d.ID == "" {
		return false, errors.New("insert delivery: empty id")
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = time.Now()
	}
	if d.Payload == nil {
		d.Payload = []byte{}
	}
	n, err := q.db.exec(ctx, `INSERT INTO deliveries
		(id, event, action, installation_id, repo, payload, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO NOTHING`,
		d.ID, d.Event, d.Action, d.InstallationID, d.Repo, d.Payload, d.ReceivedAt.UTC())
	if err != nil {
		return false, fmt.Errorf("insert delivery %s: %w", d.ID, err)
	}
	return n == 1, nil
}

// GetDelivery returns the delivery with the given ID, or an error wrapping
// ErrNotFound.
func (q Queries) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	var d Delivery
	err := q.db.queryRow(ctx, `SELECT id, event, action, installation_id, repo, payload, received_at
		FROM deliveries WHERE id = $1`, id).
		Scan(&d.ID, &d.Event, &d.Action, &d.InstallationID, &d.Repo, &d.Payload, &d.ReceivedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("get delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("get delivery %s: %w", id, err)
	}
	d.ReceivedAt = d.ReceivedAt.UTC()
	return d, nil
}

// CountDeliveries counts the stored deliveries.
func (q Queries) CountDeliveries(ctx context.Context) (int, error) {
	var n int64
	if err := q.db.queryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return int(n), nil
}
