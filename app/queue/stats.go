package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Stats counts jobs by state, for /readyz and metrics.
type Stats struct {
	Available int // waiting for a worker
	Running   int
	Retryable int // failed, waiting for their next attempt
	Scheduled int // waiting for a future time (ScheduledAt, Snooze)
	Discarded int // failed for good after their last attempt
	Cancelled int // failed for good through Cancel
	Completed int // finished (kept for a day)
}

// Stats counts the jobs in each state.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	c, err := q.store.JobCountsByState(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: %w", err)
	}
	return Stats{
		Available: c[string(rivertype.JobStateAvailable)] + c[string(rivertype.JobStatePending)],
		Running:   c[string(rivertype.JobStateRunning)],
		Retryable: c[string(rivertype.JobStateRetryable)],
		Scheduled: c[string(rivertype.JobStateScheduled)],
		Discarded: c[string(rivertype.JobStateDiscarded)],
		Cancelled: c[string(rivertype.JobStateCancelled)],
		Completed: c[string(rivertype.JobStateCompleted)],
	}, nil
}

// DeadJob is a job that failed for good, with the errors of its attempts.
type DeadJob struct {
	Job
	State       string     // "discarded" or "cancelled"
	Errors      []JobError // oldest first
	FinalizedAt time.Time
}

// JobError is the error of one attempt.
type JobError struct {
	Attempt int
	At      time.Time
	Error   string
}

// LastError is the error of the job's final attempt, or "".
func (d DeadJob) LastError() string {
	if len(d.Errors) == 0 {
		return ""
	}
	return d.Errors[len(d.Errors)-1].Error
}

// Discarded lists up to limit jobs that failed for good (discarded after
// their last attempt or cancelled), most recent first.
func (q *Queue) Discarded(ctx context.Context, limit int) ([]DeadJob, error) {
	if limit <= 0 {
		return nil, nil
	}
	params := river.NewJobListParams().
		States(rivertype.JobStateDiscarded, rivertype.JobStateCancelled).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).
		First(min(limit, 10_000))
	res, err := q.inserter.list(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list discarded jobs: %w", err)
	}
	out := make([]DeadJob, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		d := DeadJob{
			Job: Job{
				ID:          r.ID,
				Kind:        r.Kind,
				Args:        r.EncodedArgs,
				Attempt:     r.Attempt,
				MaxAttempts: r.MaxAttempts,
				CreatedAt:   r.CreatedAt,
			},
			State: string(r.State),
		}
		if r.FinalizedAt != nil {
			d.FinalizedAt = *r.FinalizedAt
		}
		for _, e := range r.Errors {
			d.Errors = append(d.Errors, JobError{Attempt: e.Attempt, At: e.At, Error: e.Error})
		}
		out = append(out, d)
	}
	return out, nil
}
