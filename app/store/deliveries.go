package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Delivery is one webhook delivery as GitHub sent it.
type Delivery struct {
	ID             string    // X-GitHub-Delivery; unique, kept by redeliveries
	Event          string    // X-GitHub-Event, e.g. "pull_request"
	Action         string    // payload "action", empty for events without one
	InstallationID int64     // payload installation.id, 0 if absent
	Repo           string    // "owner/name", empty for org-level events
	Payload        []byte    // the raw request body (stored compressed: payload.go)
	ReceivedAt     time.Time // when gatehouse accepted it (stored in UTC)

	packed []byte // Payload as stored, once PackPayload ran
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
	n, err := q.db.exec(ctx, `INSERT INTO deliveries
		(id, event, action, installation_id, repo, payload, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO NOTHING`,
		d.ID, d.Event, d.Action, d.InstallationID, d.Repo, d.storedPayload(), d.ReceivedAt.UTC())
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
	if d.Payload, err = unpackPayload(d.Payload); err != nil {
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

// maxDeliveriesPerInsert bounds one InsertDeliveries statement: seven
// parameters a row stays far below SQLite's and Postgres' parameter limits.
const maxDeliveriesPerInsert = 500

// InsertDeliveries stores ds with one statement per maxDeliveriesPerInsert
// rows (the intake's group commit), skipping IDs already stored, and
// reports for each of ds whether it inserted it. When ds holds an ID twice,
// the first is inserted (if new) and the later ones are not.
func (q Queries) InsertDeliveries(ctx context.Context, ds []Delivery) ([]bool, error) {
	inserted := make([]bool, len(ds))
	first := make(map[string]int, len(ds)) // id -> index of its first occurrence
	for start := 0; start < len(ds); start += maxDeliveriesPerInsert {
		chunk := ds[start:min(len(ds), start+maxDeliveriesPerInsert)]
		var (
			b    strings.Builder
			args = make([]any, 0, 7*len(chunk))
		)
		b.WriteString(`INSERT INTO deliveries (id, event, action, installation_id, repo, payload, received_at) VALUES `)
		n := 0
		for i, d := range chunk {
			if d.ID == "" {
				return nil, errors.New("insert deliveries: empty id")
			}
			if _, dup := first[d.ID]; dup {
				continue
			}
			first[d.ID] = start + i
			if d.ReceivedAt.IsZero() {
				d.ReceivedAt = time.Now()
			}
			if n > 0 {
				b.WriteByte(',')
			}
			p := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7)
			args = append(args, d.ID, d.Event, d.Action, d.InstallationID, d.Repo, d.storedPayload(), d.ReceivedAt.UTC())
			n++
		}
		if n == 0 {
			continue
		}
		b.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
		rows, err := q.db.query(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("insert %d deliveries: %w", n, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("insert %d deliveries: %w", n, err)
			}
			if i, ok := first[id]; ok {
				inserted[i] = true
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("insert %d deliveries: %w", n, err)
		}
	}
	return inserted, nil
}

// DeliveryIDsStored returns which of ids are stored.
func (q Queries) DeliveryIDsStored(ctx context.Context, ids []string) (map[string]bool, error) {
	out, err := q.present(ctx, "deliveries", "id", ids)
	if err != nil {
		return nil, fmt.Errorf("look up deliveries: %w", err)
	}
	return out, nil
}

// present returns which of keys the column holds, asked in chunks of at
// most maxDeliveriesPerInsert. table and column are the caller's
// constants, never input.
func (q Queries) present(ctx context.Context, table, column string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	for start := 0; start < len(keys); start += maxDeliveriesPerInsert {
		chunk := keys[start:min(len(keys), start+maxDeliveriesPerInsert)]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, k := range chunk {
			marks[i], args[i] = fmt.Sprintf("$%d", i+1), k
		}
		rows, err := q.db.query(ctx, `SELECT `+column+` FROM `+table+` WHERE `+column+` IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeliveryPlanCounts counts, among the deliveries whose ID starts with
// prefix, those stored, the planning jobs of kind enqueued for them, how
// many distinct deliveries those jobs name (benchmarks and tests check
// that every stored delivery is planned exactly once), and how many of
// those jobs have completed.
func (s *Store) DeliveryPlanCounts(ctx context.Context, kind, prefix string) (stored, jobs, distinct, completed int, err error) {
	arg := `json_extract(args, '$.delivery_id')`
	if s.driver == DriverPostgres {
		arg = `args->>'delivery_id'`
	}
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
	var a, b, c, d int64
	if err = s.db.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE id LIKE $1 ESCAPE '\'`, like).Scan(&a); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("count deliveries: %w", err)
	}
	if err = s.db.queryRow(ctx, `SELECT count(*), count(DISTINCT `+arg+`), count(*) FILTER (WHERE state = 'completed') FROM river_job WHERE kind = $1 AND `+arg+` LIKE $2 ESCAPE '\'`, kind, like).Scan(&b, &c, &d); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("count planning jobs: %w", err)
	}
	return int(a), int(b), int(c), int(d), nil
}
