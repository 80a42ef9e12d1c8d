package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"

	"github.com/gatehouse/gatehouse/app/store"
)

// Cancel wraps err to fail the job for good: no retry, OnDiscard is called.
// Use it for errors retrying cannot fix (a deleted repository, a malformed
// payload).
func Cancel(err error) error {
	if err == nil {
		err = errors.New("job cancelled")
	}
	return &cancelError{err: err}
}

// Snooze asks for the job to run again after d, without counting the
// current run as a failed attempt (e.g. GitHub said Retry-After).
func Snooze(d time.Duration) error {
	return &snoozeError{d: max(d, 0)}
}

type cancelError struct{ err error }

func (e *cancelError) Error() string { return "cancelled: " + e.err.Error() }
func (e *cancelError) Unwrap() error { return e.err }

type snoozeError struct{ d time.Duration }

func (e *snoozeError) Error() string { return fmt.Sprintf("snoozed for %s", e.d) }

// kindWorker adapts a Handler to river's worker interface for one kind.
type kindWorker struct {
	river.WorkerDefaults[rawArgs]

	q       *Queue
	kind    string
	handler Handler
	timeout time.Duration
	lease   time.Duration // 0: no lease (lease.go)
	self    string        // this process's river client id
}

// Timeout is the kind's timeout; to river's rescuer, asking about a job
// whose lease ran out, it is 1 ns, so that the job is retried now rather
// than after its timeout (lease.go).
func (w *kindWorker) Timeout(rj *river.Job[rawArgs]) time.Duration {
	if leaseExpired(rj, w.lease, w.self) {
		return time.Nanosecond
	}
	return w.timeout
}

// Work runs the handler and translates its outcome for river.
func (w *kindWorker) Work(ctx context.Context, rj *river.Job[rawArgs]) error {
	job := &Job{
		ID:          rj.ID,
		Kind:        rj.Kind,
		Args:        json.RawMessage(rj.EncodedArgs),
		Attempt:     rj.Attempt,
		MaxAttempts: rj.MaxAttempts,
		CreatedAt:   rj.CreatedAt,
	}
	w.q.mu.RLock()
	be := w.q.worker
	w.q.mu.RUnlock()
	if be != nil {
		job.complete = func(ctx context.Context, tx *store.Tx) error { return be.completeTx(ctx, tx, rj) }
	}
	if w.lease > 0 {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := w.q.holdLease(ctx, rj, w.lease, cancel)
		defer stop()
	}
	err := runHandler(ctx, w.handler, job)
	if err == nil || job.completed {
		// Completed in the handler's transaction: that commit stands
		// whatever the handler returned after it.
		return nil
	}
	log := w.q.log.With(slog.Int64("job_id", job.ID), slog.String("kind", job.Kind),
		slog.Int("attempt", job.Attempt), slog.Int("max_attempts", job.MaxAttempts))

	var (
		snooze *snoozeError
		cancel *cancelError
	)
	switch {
	case errors.As(err, &snooze):
		log.InfoContext(ctx, "job snoozed", slog.Duration("for", snooze.d))
		return river.JobSnooze(snooze.d)
	case ctx.Err() != nil && w.q.cancelling.Load():
		// Stop cancelled the job: river puts it back without counting the
		// attempt when the error says context.Canceled, whatever the
		// handler wrapped it in.
		log.InfoContext(ctx, "job interrupted by shutdown; it will run again", slog.String("err", err.Error()))
		return errors.Join(context.Canceled, err)
	case errors.As(err, &cancel):
		log.WarnContext(ctx, "job cancelled", slog.String("err", cancel.err.Error()))
		w.q.discarded(ctx, job, cancel.err)
		return river.JobCancel(cancel.err)
	case job.Attempt >= job.MaxAttempts:
		log.ErrorContext(ctx, "job failed; no attempts left, discarding", slog.String("err", err.Error()))
		w.q.discarded(ctx, job, err)
		return err
	default:
		log.WarnContext(ctx, "job failed; will retry", slog.String("err", err.Error()))
		return err
	}
}

// runHandler calls h, turning a panic into an error with its stack.
func runHandler(ctx context.Context, h Handler, job *Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s job %d: %v\n%s", job.Kind, job.ID, r, debug.Stack())
		}
	}()
	return h(ctx, job)
}

// discarded calls the OnDiscard hook, itself protected from panics, with a
// context that outlives the job's (which may have timed out).
func (q *Queue) discarded(ctx context.Context, job *Job, err error) {
	if q.cfg.OnDiscard == nil {
		return
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardHookTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			q.log.ErrorContext(ctx, "OnDiscard panicked", slog.Int64("job_id", job.ID), slog.Any("panic", r))
		}
	}()
	q.cfg.OnDiscard(hctx, job, err)
}

// jitter spreads d by ±10% so that jobs failing together do not retry in
// lockstep.
func jitter(d time.Duration) time.Duration {
	spread := d / 5
	if spread <= 0 {
		return d
	}
	return d - spread/2 + rand.N(spread)
}
