package store

import (
	"context"
	"fmt"
)

// JobCountsByState counts the queue's jobs (river's river_job table, in
// this database) by state: "available", "running", "retryable",
// "scheduled", "discarded", "completed", "cancelled", "pending". The queue
// package gives the states their meaning; this is the one place that reads
// river's table directly, because river has no count API.
func (q Queries) JobCountsByState(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.query(ctx, `SELECT CAST(state AS TEXT), count(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			state string
			n     int64
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		counts[state] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return counts, nil
}
