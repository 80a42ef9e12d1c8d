package queue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Intake defaults.
const (
	DefaultIntakeMaxBatch   = 256
	DefaultIntakeMaxWait    = 500 * time.Millisecond
	DefaultIntakeMaxPending = 4096
	// intakeCommitTimeout bounds one batch's transaction.
	intakeCommitTimeout = 8 * time.Second
)

// ErrOverloaded is returned by Intake.Accept when the delivery could not
// join a batch in time (too many waiting, or waited longer than MaxWait):
// it was not stored, and the caller should answer at once rather than hold
// the connection.
var ErrOverloaded = errors.New("intake overloaded: delivery not stored")

// ErrIntakeClosed is returned by Intake.Accept once the intake has stopped.
var ErrIntakeClosed = errors.New("intake stopped: delivery not stored")

// IntakeConfig configures an Intake; zero values take the defaults.
type IntakeConfig struct {
	// Writers is how many batches commit at once (default 1). SQLite has
	// one writer at a time anyway. On Postgres a second writer halved the
	// batches, and every transaction costs both sides CPU whatever its
	// size: at 500 deliveries a second on 2 cores, one writer took 30% less
	// of Postgres' CPU and 18% less of gatehouse's, at the same latency.
	Writers int
	// MaxBatch bounds the deliveries of one transaction.
	MaxBatch int
	// MaxWait is how long a delivery may wait for its batch to start; a
	// delivery that waited longer is refused with ErrOverloaded without
	// being stored. A batch's commit comes on top, so an answer takes at
	// most about MaxWait plus one commit.
	MaxWait time.Duration
	// MaxPending bounds the deliveries waiting for a batch; beyond it
	// Accept refuses at once.
	MaxPending int
	// OnBatch, if set, observes each batch: its size, how long its
	// transaction took and its error.
	OnBatch func(size int, took time.Duration, err error)
	Logger  *slog.Logger
}

// Intake is the webhook intake's group commit. Deliveries accepted
// concurrently are stored, and their jobs enqueued, in one transaction per
// batch (Queue.AcceptDeliveries), and each Accept returns only after its
// batch committed, so an acknowledged delivery is durable. A batch forms
// by itself: while one commits, the next arrivals wait and go together in
// the next, so an idle server commits one delivery at once and a busy one
// pays one commit for many.
type Intake struct {
	q    *Queue
	cfg  IntakeConfig
	reqs chan *intakeReq

	// lastWait is how long the last batch's first delivery waited for it
	// (nanoseconds): past MaxWait, the writers are behind.
	lastWait atomic.Int64

	mu     sync.RWMutex
	closed bool
}

type intakeReq struct {
	a    Accept
	at   time.Time
	done chan intakeResult // buffered: the writer never blocks on it
}

type intakeResult struct {
	inserted bool
	err      error
}

// NewIntake returns an intake over q. Run its writers with Run.
func (q *Queue) NewIntake(cfg IntakeConfig) *Intake {
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultIntakeMaxBatch
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultIntakeMaxWait
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultIntakeMaxPending
	}
	if cfg.Logger == nil {
		cfg.Logger = q.log
	}
	return &Intake{q: q, cfg: cfg, reqs: make(chan *intakeReq, cfg.MaxPending)}
}

// Accept stores a delivery and enqueues its job, in the next batch, and
// returns once that batch committed (inserted=false: the ID was stored
// before). It returns ErrOverloaded at once when too many deliveries wait,
// or after about MaxWait when none could join a batch in time. If ctx ends
// first it returns ctx's error; the delivery may then still be stored.
func (in *Intake) Accept(ctx context.Context, a Accept) (bool, error) {
	r := &intakeReq{a: a, at: time.Now(), done: make(chan intakeResult, 1)}
	// Compressed here, in the request's goroutine: the writers commit one
	// batch at a time, and the batch waiting behind them would wait for it.
	r.a.Delivery.PackPayload()
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return false, ErrIntakeClosed
	}
	select {
	case in.reqs <- r:
	default:
		in.mu.RUnlock()
		return false, ErrOverloaded
	}
	in.mu.RUnlock()
	select {
	case res := <-r.done:
		return res.inserted, res.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Pending is how many deliveries wait for a batch.
func (in *Intake) Pending() int { return len(in.reqs) }

// Saturated reports that a delivery accepted now would be refused: as many
// as MaxPending wait, or the last batch started later than MaxWait after
// its first delivery arrived. The webhook handler asks before reading a
// body, so that overload is refused at the least cost.
func (in *Intake) Saturated() bool {
	return len(in.reqs) >= cap(in.reqs) || time.Duration(in.lastWait.Load()) > in.cfg.MaxWait
}

// Run commits batches until ctx is done, then stops accepting, commits
// what is still waiting and returns. Stop the HTTP server first, so that no
// request is cut off.
func (in *Intake) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range in.cfg.Writers {
		wg.Go(func() { in.write(ctx) })
	}
	wg.Wait()
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	// Whatever got in before closed was set is committed now.
	for {
		batch := in.take(nil)
		if len(batch) == 0 {
			return
		}
		in.commit(context.WithoutCancel(ctx), batch)
	}
}

// write is one writer: it waits for a delivery, takes whatever else is
// waiting (up to MaxBatch) and commits them together.
func (in *Intake) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-in.reqs:
			in.commit(context.WithoutCancel(ctx), in.take(r))
			if len(in.reqs) == 0 {
				in.lastWait.Store(0) // caught up: Saturated lets deliveries in again
			}
		}
	}
}

// take returns first (if any) and what waits behind it, up to MaxBatch,
// without waiting.
func (in *Intake) take(first *intakeReq) []*intakeReq {
	var batch []*intakeReq
	if first != nil {
		batch = append(batch, first)
	}
	for len(batch) < in.cfg.MaxBatch {
		select {
		case r := <-in.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit stores a batch, refusing first the deliveries that waited too
// long. If the batch fails as a whole, each delivery is tried on its own,
// so that one bad delivery does not fail its neighbours.
func (in *Intake) commit(ctx context.Context, batch []*intakeReq) {
	now := time.Now()
	in.lastWait.Store(int64(now.Sub(batch[0].at)))
	live := batch[:0]
	for _, r := range batch {
		if now.Sub(r.at) > in.cfg.MaxWait {
			r.done <- intakeResult{err: ErrOverloaded}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := in.store(ctx, live)
	if err == nil || len(live) == 1 {
		return
	}
	in.cfg.Logger.Warn("intake batch failed; storing its deliveries one by one",
		slog.Int("deliveries", len(live)), slog.String("error", err.Error()))
	for _, r := range live {
		_ = in.store(ctx, []*intakeReq{r})
	}
}

// store commits one batch and answers its requests, unless it fails and
// holds more than one (commit then retries them one by one).
func (in *Intake) store(ctx context.Context, batch []*intakeReq) error {
	as := make([]Accept, len(batch))
	for i, r := range batch {
		as[i] = r.a
	}
	cctx, cancel := context.WithTimeout(ctx, intakeCommitTimeout)
	defer cancel()
	start := time.Now()
	inserted, err := in.q.AcceptDeliveries(cctx, as)
	if in.cfg.OnBatch != nil {
		in.cfg.OnBatch(len(batch), time.Since(start), err)
	}
	if err != nil && len(batch) > 1 {
		return err
	}
	for i, r := range batch {
		if err != nil {
			r.done <- intakeResult{err: err}
			continue
		}
		r.done <- intakeResult{inserted: inserted[i]}
	}
	return err
}
