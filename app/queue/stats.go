package queue

import (
	"context"
	"fmt"
	"slices"
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

// KindDepth is the queue's load for one job kind, for metrics.
type KindDepth struct {
	Kind      string
	Available int // waiting for a worker (river's available and pending)
	Running   int
	Retryable int
	Scheduled int
	// OldestWaiting is how long the oldest available job has waited since
	// it became due (0 when none waits); OldestRunning how long the oldest
	// running attempt has run.
	OldestWaiting, OldestRunning time.Duration
}

// Depth returns the load of each job kind that has unfinished jobs. It
// costs one grouped count plus, per kind with waiting or running jobs, one
// indexed lookup of the oldest: cheap enough for every metrics scrape.
func (q *Queue) Depth(ctx context.Context) ([]KindDepth, error) {
	counts, err := q.store.ActiveJobCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	byKind := map[string]*KindDepth{}
	var kinds []string
	for ks, n := range counts {
		d := byKind[ks[0]]
		if d == nil {
			d = &KindDepth{Kind: ks[0]}
			byKind[ks[0]] = d
			kinds = append(kinds, ks[0])
		}
		switch rivertype.JobState(ks[1]) {
		case rivertype.JobStateAvailable, rivertype.JobStatePending:
			d.Available += n
		case rivertype.JobStateRunning:
			d.Running += n
		case rivertype.JobStateRetryable:
			d.Retryable += n
		case rivertype.JobStateScheduled:
			d.Scheduled += n
		}
	}
	slices.Sort(kinds)
	now := time.Now()
	out := make([]KindDepth, 0, len(kinds))
	for _, k := range kinds {
		d := byKind[k]
		if d.Available > 0 {
			if d.OldestWaiting, err = q.oldest(ctx, k, rivertype.JobStateAvailable, now); err != nil {
				return nil, err
			}
		}
		if d.Running > 0 {
			if d.OldestRunning, err = q.oldest(ctx, k, rivertype.JobStateRunning, now); err != nil {
				return nil, err
			}
		}
		out = append(out, *d)
	}
	return out, nil
}

// oldest is the age of the oldest job of a kind in a state, by the state's
// time (scheduled_at for available jobs, attempted_at for running ones).
func (q *Queue) oldest(ctx context.Context, kind string, state rivertype.JobState, now time.Time) (time.Duration, error) {
	res, err := q.inserter.list(ctx, river.NewJobListParams().Kinds(kind).States(state).
		OrderBy(river.JobListOrderByTime, river.SortOrderAsc).First(1))
	if err != nil {
		return 0, fmt.Errorf("oldest %s %s job: %w", state, kind, err)
	}
	if len(res.Jobs) == 0 {
		return 0, nil
	}
	j := res.Jobs[0]
	since := j.ScheduledAt
	if state == rivertype.JobStateRunning && j.AttemptedAt != nil {
		since = *j.AttemptedAt
	}
	return max(now.Sub(since), 0), nil
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
