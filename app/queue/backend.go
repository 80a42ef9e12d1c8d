package queue

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivershared/uniquestates"
	"github.com/riverqueue/river/rivertype"

	"github.com/gatehouse/gatehouse/app/store"
)

// backend is a river client with its transaction type hidden: river's
// client is generic over the driver's transaction (*sql.Tx for SQLite,
// pgx.Tx for Postgres), the rest of this package is not.
//
// River's SQLite driver (riversqlite, "early testing" upstream) is the
// embedded default. It was checked for what gatehouse needs before being
// chosen — transactional insert with our own rows, work, retry, discard,
// unique jobs, stop/requeue and jobs surviving a SIGKILL — by this
// package's tests, which run every case on SQLite and on Postgres.
type backend interface {
	insertTx(ctx context.Context, tx *store.Tx, args rawArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	insertManyTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error
	list(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	// completeTx marks a running job completed in tx (river.JobCompleteTx);
	// ctx must be the job's work context.
	completeTx(ctx context.Context, tx *store.Tx, job *river.Job[rawArgs]) error
}

type riverBackend[TTx any] struct {
	client *river.Client[TTx]
	txOf   func(*store.Tx) TTx
	// complete is river.JobCompleteTx instantiated for the driver, which
	// the generic struct cannot name.
	complete func(ctx context.Context, tx TTx, job *river.Job[rawArgs]) (*river.Job[rawArgs], error)
}

func newBackend(s *store.Store, cfg *river.Config) (backend, error) {
	switch s.Driver() {
	case store.DriverSQLite:
		c, err := river.NewClient(riversqlite.New(s.SQLDB()), cfg)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		return &riverBackend[*sql.Tx]{client: c, txOf: (*store.Tx).SQLTx,
			complete: river.JobCompleteTx[*riversqlite.Driver, *sql.Tx, rawArgs]}, nil
	case store.DriverPostgres:
		c, err := river.NewClient(riverpgxv5.New(s.PgxPool()), cfg)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		return &riverBackend[pgx.Tx]{client: c, txOf: (*store.Tx).PgxTx,
			complete: river.JobCompleteTx[*riverpgxv5.Driver, pgx.Tx, rawArgs]}, nil
	}
	return nil, fmt.Errorf("no queue driver for database %q", s.Driver())
}

func (b *riverBackend[TTx]) insertTx(ctx context.Context, tx *store.Tx, args rawArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return b.client.InsertTx(ctx, b.txOf(tx), args, opts)
}

func (b *riverBackend[TTx]) completeTx(ctx context.Context, tx *store.Tx, job *river.Job[rawArgs]) error {
	if _, err := b.complete(ctx, b.txOf(tx), job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

func (b *riverBackend[TTx]) list(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error) {
	return b.client.JobList(ctx, params)
}

func (b *riverBackend[TTx]) start(ctx context.Context) error { return b.client.Start(ctx) }
func (b *riverBackend[TTx]) stop(ctx context.Context) error  { return b.client.Stop(ctx) }
func (b *riverBackend[TTx]) stopAndCancel(ctx context.Context) error {
	return b.client.StopAndCancel(ctx)
}

// riverConfig is the part of river's configuration shared by the insert
// client and the worker client.
func (q *Queue) riverConfig() *river.Config {
	return &river.Config{
		Logger:            q.log.With(slog.String("component", "river")),
		FetchPollInterval: q.cfg.PollInterval,
		FetchCooldown:     min(river.FetchCooldownDefault, q.cfg.PollInterval),
		JobTimeout:        q.cfg.JobTimeout,
		MaxAttempts:       q.cfg.MaxAttempts,
		RetryPolicy:       &backoffPolicy{base: q.cfg.RetryBackoff, max: q.cfg.RetryBackoffMax},
		Hooks:             []rivertype.Hook{river.HookInsertBeginFunc(setUniqueKey)},
		// Timeouts are per kind (kindWorker.Timeout) and the rescuer
		// threshold is checked against them in Start.
		RescueStuckJobsAfter: max(q.cfg.RescueStuckJobsAfter, q.cfg.JobTimeout),
	}
}

// uniqueStates are the states in which a job blocks another with its unique
// key: from enqueued until it completes or dies. A finished job does not,
// so the same work can be asked for again later (a rescan). River requires
// available, pending, running and scheduled in any such set.
var uniqueStates = uniquestates.UniqueStatesToBitmask([]rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
})

// setUniqueKey gives a job enqueued with EnqueueOpts.UniqueKey river's
// unique key, which river's own unique options can only derive from the
// arguments' Go struct tags (that dynamic kinds do not have).
func setUniqueKey(_ context.Context, params *rivertype.JobInsertParams) error {
	a, ok := params.Args.(rawArgs)
	if !ok || a.uniqueKey == "" {
		return nil
	}
	sum := sha256.Sum256([]byte("gatehouse\x00" + params.Kind + "\x00" + a.uniqueKey))
	params.UniqueKey = sum[:]
	params.UniqueStates = uniqueStates
	return nil
}

// rawArgs carries a job's kind and already-encoded arguments through river,
// which wants a Go type per kind.
type rawArgs struct {
	kind      string
	data      []byte
	uniqueKey string // insert only
}

// Kind implements river.JobArgs.
func (a rawArgs) Kind() string { return a.kind }

// MarshalJSON hands river the arguments as they were encoded.
func (a rawArgs) MarshalJSON() ([]byte, error) { return a.data, nil }

// UnmarshalJSON keeps the stored arguments as they are.
func (a *rawArgs) UnmarshalJSON(b []byte) error {
	a.data = append(a.data[:0], b...)
	return nil
}

// addWorker registers w for kind with river, turning river's panic on a
// bad registration into an error.
func addWorker(workers *river.Workers, kind string, w *kindWorker) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("register %q: %v", kind, r)
		}
	}()
	river.AddWorkerArgs[rawArgs](workers, rawArgs{kind: kind}, w)
	return nil
}

// backoffPolicy retries after base, 2·base, 4·base… capped at max, ±10%.
// River's default (attempt⁴ seconds) reaches hours by the tenth attempt;
// a GitHub-facing job wants seconds first and a bounded wait after.
type backoffPolicy struct {
	base, max time.Duration
}

// NextRetry implements river.ClientRetryPolicy.
func (p *backoffPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().UTC().Add(p.delay(len(job.Errors) + 1))
}

// delay is the wait before the retry after the n-th failure (n ≥ 1).
func (p *backoffPolicy) delay(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	return jitter(d)
}

// insertManyTx inserts jobs in tx with river's bulk insert (one statement on
// Postgres).
func (b *riverBackend[TTx]) insertManyTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error {
	_, err := b.client.InsertManyTx(ctx, b.txOf(tx), params)
	return err
}
