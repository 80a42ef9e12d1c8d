// Package queue is gatehouse's durable job queue: jobs live in the store's
// database (SQLite or Postgres) next to the deliveries that caused them, so
// accepting a webhook and enqueuing its work is one transaction, and a crash
// at any point loses nothing. It wraps river (riverqueue/river) and keeps
// river's generics and types out of the rest of the app: a job is a kind
// name and JSON arguments, a handler a plain function.
//
// Failed jobs are retried with a bounded exponential backoff; after their
// last attempt they are discarded with their errors kept, and Config's
// OnDiscard hook lets the app report the failure (a failed check run).
package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/gatehouse/gatehouse/app/store"
)

// Defaults for the zero values of Config and KindOptions.
const (
	DefaultPollInterval = time.Second
	// DefaultPollIntervalSQLite is the poll on SQLite, which has no
	// LISTEN/NOTIFY: a job enqueued inside a transaction (the intake's
	// planning jobs, the planner's scan) waits for the next poll, so a
	// second's poll was up to two seconds of every verdict. A poll is one
	// short local query.
	DefaultPollIntervalSQLite = 100 * time.Millisecond
	DefaultMaxAttempts        = 10
	DefaultJobTimeout         = 10 * time.Minute
	DefaultRetryBackoff       = time.Second
	DefaultRetryBackoffMax    = 10 * time.Minute
	// DefaultRescueMargin is added to the longest job timeout to decide when
	// a job left "running" by a dead process is given to another worker.
	DefaultRescueMargin = 5 * time.Minute
	// hardStopGrace bounds how long Stop waits for cancelled jobs to return.
	hardStopGrace = 30 * time.Second
	// discardHookTimeout bounds OnDiscard, which may call GitHub.
	discardHookTimeout = time.Minute
)

// Handler works one job. Returning nil completes it; an error retries it
// after a backoff until its attempts run out; Cancel(err) fails it for good
// at once; Snooze(d) runs it again after d without using up an attempt. A
// panic is recovered and treated as an error. Handlers must return soon
// after ctx is done.
type Handler func(ctx context.Context, job *Job) error

// Job is one unit of queued work as a handler sees it.
type Job struct {
	ID          int64
	Kind        string
	Args        json.RawMessage // the arguments as enqueued (same JSON value; Postgres may respace it)
	Attempt     int             // 1 on the first run
	MaxAttempts int
	CreatedAt   time.Time

	// complete marks this run of the job completed inside a transaction
	// (set by the worker that runs the job).
	complete  func(ctx context.Context, tx *store.Tx) error
	completed bool
}

// CompleteTx runs fn and marks the job completed in one transaction: either
// both commit or neither does. A handler calls it for its last writes (the
// evidence of a verdict), then returns nil. If fn or the completion fails,
// nothing fn wrote is kept and the error is returned (return it to retry).
// Outside a worker (a Job built by hand) fn runs in a plain transaction.
func (j *Job) CompleteTx(ctx context.Context, s *store.Store, fn func(tx *store.Tx) error) error {
	err := s.InTx(ctx, func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if j.complete == nil {
			return nil
		}
		return j.complete(ctx, tx)
	})
	if err == nil && j.complete != nil {
		j.completed = true
	}
	return err
}

// KindOptions configure one job kind; zero values take Config's defaults.
type KindOptions struct {
	MaxAttempts int           // runs before the job is discarded
	Timeout     time.Duration // per run; the handler's ctx is cancelled after it
}

// Config configures a Queue.
type Config struct {
	// Workers is how many jobs this process works at once. 0 means insert
	// only (the "web" role): the process enqueues but never works jobs.
	Workers int
	// FastKinds are the kinds of short jobs (planning a delivery, taking
	// an approval) worked in a queue of their own (QueueFast) by FastWorkers
	// more workers, so that they never wait for a slot behind long ones
	// (scans), and fetched again as soon as a slot frees (river's fetch
	// cooldown is 100 ms: a burst of deliveries was planned at most twenty
	// a second, and not at all while two scans ran). Every role must be
	// given the same list: it picks the queue a job is inserted into.
	FastKinds []string
	// FastWorkers is how many fast jobs this process works at once, on top
	// of Workers (default: as many as Workers, so that deliveries are
	// planned with the same concurrency, and with one worker in the order
	// they came, as before; ignored without FastKinds or when Workers is 0).
	FastWorkers int
	// Logger receives job failures and river's own logs; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often workers look for jobs they were not told
	// about (default 1s on Postgres, whose inserts notify the workers;
	// DefaultPollIntervalSQLite on SQLite). Inserts outside a transaction
	// wake local workers sooner.
	PollInterval time.Duration
	// RescueStuckJobsAfter is how long a job may stay "running" before it is
	// assumed orphaned (its process died) and retried. It must exceed every
	// job timeout; default: the longest timeout plus DefaultRescueMargin.
	RescueStuckJobsAfter time.Duration
	// JobTimeout is the timeout of kinds registered without one (default 10m).
	JobTimeout time.Duration
	// Lease is, on Postgres, how long a running job stays its worker's
	// without the worker renewing it (default DefaultLease; negative: off).
	// A job whose worker died is retried by another within about Lease +
	// 30 s, whatever its timeout (lease.go); RescueStuckJobsAfter then does
	// not apply. SQLite has no leases: its one process requeues orphaned
	// jobs when it starts.
	Lease time.Duration
	// MaxAttempts is the attempt limit of kinds registered without one and
	// of unregistered kinds enqueued in insert-only mode (default 10).
	MaxAttempts int
	// RetryBackoff is the delay before the first retry (default 1s); it
	// doubles with each further failure up to RetryBackoffMax (default 10m),
	// with ±10% jitter.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// OnDiscard, if set, is called once when a job fails for good: its last
	// attempt failed, or its handler returned Cancel. err is the final error.
	// It runs in the worker, after the handler, with a fresh context.
	OnDiscard func(ctx context.Context, job *Job, err error)
}

// QueueFast is river's queue for Config.FastKinds; every other kind is
// worked in river's default queue.
const QueueFast = "fast"

// Queue enqueues jobs and, unless insert-only, works them.
type Queue struct {
	store    *store.Store
	cfg      Config
	log      *slog.Logger
	inserter backend // always set; never works jobs

	mu      sync.RWMutex
	kinds   map[string]kind
	regErr  error   // first registration error, reported by Start
	worker  backend // set by Start when Workers > 0
	started bool

	// cancelling is set when Stop gives up waiting and cancels running jobs,
	// so that their handlers' errors mean "interrupted", not "failed".
	cancelling atomic.Bool
}

type kind struct {
	handler Handler
	opts    KindOptions
}

// New returns a queue over s's database. Register handlers, then Start.
func New(s *store.Store, cfg Config) (*Queue, error) {
	if s == nil {
		return nil, errors.New("new queue: nil store")
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("new queue: negative Workers %d", cfg.Workers)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FastWorkers <= 0 {
		cfg.FastWorkers = cfg.Workers
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
		if s.Driver() == store.DriverSQLite {
			cfg.PollInterval = DefaultPollIntervalSQLite
		}
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = DefaultJobTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.RetryBackoffMax <= 0 {
		cfg.RetryBackoffMax = DefaultRetryBackoffMax
	}
	if cfg.RetryBackoffMax < cfg.RetryBackoff {
		cfg.RetryBackoffMax = cfg.RetryBackoff
	}
	q := &Queue{
		store: s,
		cfg:   cfg,
		log:   cfg.Logger,
		kinds: map[string]kind{},
	}
	rc := q.riverConfig()
	inserter, err := newBackend(s, rc)
	if err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	q.inserter = inserter
	return q, nil
}

// PollInterval is how often the workers look for jobs they were not told
// about: Config.PollInterval, or its default for the store.
func (q *Queue) PollInterval() time.Duration { return q.cfg.PollInterval }

// Register sets the handler and options of a job kind. Call it before
// Start, in every role: in insert-only mode the handler is not used (it may
// be nil) but the options still apply to enqueued jobs. A bad registration
// (empty kind, nil handler in a worker, duplicate, after Start) is reported
// by Start.
func (q *Queue) Register(kindName string, h Handler, opts KindOptions) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var err error
	switch {
	case kindName == "":
		err = errors.New("register: empty job kind")
	case q.started:
		err = fmt.Errorf("register %q: queue already started", kindName)
	case h == nil && q.cfg.Workers > 0:
		err = fmt.Errorf("register %q: nil handler", kindName)
	case opts.MaxAttempts < 0 || opts.Timeout < 0:
		err = fmt.Errorf("register %q: negative MaxAttempts or Timeout", kindName)
	}
	if _, dup := q.kinds[kindName]; dup && err == nil {
		err = fmt.Errorf("register %q: kind registered twice", kindName)
	}
	if err != nil {
		if q.regErr == nil {
			q.regErr = err
		}
		return
	}
	q.kinds[kindName] = kind{handler: h, opts: opts}
}

// Start reports registration errors and, unless the queue is insert-only,
// starts working jobs. The workers run until Stop: cancelling ctx does not
// stop them (so that shutdown can be graceful).
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.regErr != nil {
		return fmt.Errorf("start queue: %w", q.regErr)
	}
	if q.started {
		return errors.New("start queue: already started")
	}
	if q.cfg.Workers == 0 {
		q.started = true
		return nil
	}
	if len(q.kinds) == 0 {
		return errors.New("start queue: no job kinds registered")
	}
	if q.store.Driver() == store.DriverSQLite {
		// One process per SQLite data dir: a job still "running" was cut
		// off by a crash, so it is worked again now rather than after the
		// stuck-job rescue interval.
		n, err := q.store.RequeueOrphanedSQLiteJobs(ctx)
		if err != nil {
			return fmt.Errorf("start queue: %w", err)
		}
		if n > 0 {
			q.log.Warn("requeued jobs orphaned by a crash", slog.Int64("jobs", n))
		}
	}
	rc := q.riverConfig()
	rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.cfg.Workers}}
	if len(q.cfg.FastKinds) > 0 {
		// A fast job takes milliseconds: waiting river's default 100 ms
		// between fetches would cap them at FastWorkers ten times a second.
		rc.Queues[QueueFast] = river.QueueConfig{MaxWorkers: q.cfg.FastWorkers, FetchCooldown: river.FetchCooldownMin}
	}
	rc.Workers = river.NewWorkers()
	longest := q.cfg.JobTimeout
	lease := q.lease()
	rc.ID = clientID()
	for name, k := range q.kinds {
		// The kind's timeout is resolved here, so that river's client-wide
		// JobTimeout is never a job's timeout (with leases it is the lease).
		w := &kindWorker{q: q, kind: name, handler: k.handler, timeout: cmp.Or(k.opts.Timeout, q.cfg.JobTimeout), lease: lease, self: rc.ID}
		if err := addWorker(rc.Workers, name, w); err != nil {
			return fmt.Errorf("start queue: %w", err)
		}
		longest = max(longest, k.opts.Timeout)
	}
	rc.RescueStuckJobsAfter = q.cfg.RescueStuckJobsAfter
	if rc.RescueStuckJobsAfter <= 0 {
		rc.RescueStuckJobsAfter = longest + DefaultRescueMargin
	}
	if lease > 0 {
		rc.RescueStuckJobsAfter, rc.JobTimeout = lease, lease
	} else if rc.RescueStuckJobsAfter < longest {
		return fmt.Errorf("start queue: RescueStuckJobsAfter %s is shorter than the longest job timeout %s: jobs would run twice",
			rc.RescueStuckJobsAfter, longest)
	}
	w, err := newBackend(q.store, rc)
	if err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	if err := w.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	q.worker, q.started = w, true
	q.log.InfoContext(ctx, "queue started", slog.Int("workers", q.cfg.Workers), slog.String("driver", q.store.Driver()))
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish. If ctx
// ends first, it cancels them: their handlers see ctx done and the jobs go
// back to the queue without using up an attempt. Stop returns nil once the
// workers are stopped, and an error only if cancelled jobs still did not
// return within a grace period.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.RLock()
	w := q.worker
	q.mu.RUnlock()
	if w == nil {
		return nil
	}
	err := w.stop(ctx)
	if err == nil {
		q.log.InfoContext(ctx, "queue stopped")
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("stop queue: %w", err)
	}
	q.log.WarnContext(ctx, "queue stop timed out; cancelling running jobs, they will be retried")
	q.cancelling.Store(true)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopGrace)
	defer cancel()
	if err := w.stopAndCancel(hctx); err != nil {
		return fmt.Errorf("stop queue: cancelled jobs did not return within %s: %w", hardStopGrace, err)
	}
	return nil
}
