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

// RequeueOrphanedSQLiteJobs puts jobs left "running" back to "available".
// Only sound on SQLite at start-up: the data directory's lock guarantees no
// other process is working them, so a running job was orphaned by a crash of
// this process's predecessor and need not wait for river's stuck-job rescue.
func (s *Store) RequeueOrphanedSQLiteJobs(ctx context.Context) (int64, error) {
	if s.driver != DriverSQLite {
		return 0, fmt.Errorf("requeue orphaned jobs: only safe on SQLite, not %s", s.driver)
	}
	n, err := s.db.exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("requeue orphaned jobs: %w", err)
	}
	return n, nil
}

// ActiveJobCounts counts the queue's jobs that are not finished, by kind and
// state ("available", "pending", "running", "retryable", "scheduled"). It
// reads only those states, which river's fetch index leads with, so it stays
// cheap however many finished jobs the table keeps: metrics call it at every
// scrape.
func (q Queries) ActiveJobCounts(ctx context.Context) (map[[2]string]int, error) {
	rows, err := q.db.query(ctx, `SELECT kind, CAST(state AS TEXT), count(*) FROM river_job
		WHERE state IN ('available', 'pending', 'running', 'retryable', 'scheduled') GROUP BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("count active jobs: %w", err)
	}
	defer rows.Close()
	counts := map[[2]string]int{}
	for rows.Next() {
		var (
			kind, state string
			n           int64
		)
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return nil, fmt.Errorf("count active jobs: %w", err)
		}
		counts[[2]string{kind, state}] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count active jobs: %w", err)
	}
	return counts, nil
}

// RenewJobLease moves a running job's attempted_at to now: the queue's
// lease on it (river's rescuer retries a running job whose attempted_at is
// older than the lease, taking its process for dead). It reports false when
// the job is no longer in that attempt of "running" (rescued, finished):
// the lease is lost. Postgres only: on SQLite one process owns the data
// directory and requeues orphaned jobs when it starts.
func (s *Store) RenewJobLease(ctx context.Context, id int64, attempt int) (bool, error) {
	if s.driver != DriverPostgres {
		return false, fmt.Errorf("renew job lease: only on Postgres, not %s", s.driver)
	}
	n, err := s.db.exec(ctx, `UPDATE river_job SET attempted_at = now() WHERE id = $1 AND state = 'running' AND attempt = $2`, id, attempt)
	if err != nil {
		return false, fmt.Errorf("renew lease of job %d: %w", id, err)
	}
	return n == 1, nil
}
