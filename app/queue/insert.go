package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/gatehouse/gatehouse/app/store"
)

// EnqueueOpts tune one Enqueue.
type EnqueueOpts struct {
	// UniqueKey, if set, makes the enqueue a no-op while a job of the same
	// kind and key is waiting, scheduled, running or awaiting a retry. Once
	// that job has completed or died, the key is free again.
	UniqueKey string
	// ScheduledAt delays the job until then (zero: run now).
	ScheduledAt time.Time
	// MaxAttempts overrides the kind's attempt limit.
	MaxAttempts int
}

// AcceptDelivery stores the webhook delivery d and enqueues a job of the
// given kind for it, in one transaction: either both are stored or neither.
// A delivery whose ID is already stored (a redelivery) enqueues nothing and
// returns inserted=false.
func (q *Queue) AcceptDelivery(ctx context.Context, d store.Delivery, kind string, args any) (inserted bool, err error) {
	ins, err := q.AcceptDeliveries(ctx, []Accept{{Delivery: d, Kind: kind, Args: args}})
	if err != nil {
		return false, err
	}
	return ins[0], nil
}

// Accept is one delivery for AcceptDeliveries, with the job to enqueue for
// it when it is new.
type Accept struct {
	Delivery store.Delivery
	Kind     string
	Args     any
}

// AcceptDeliveries stores deliveries and enqueues the jobs of those that
// are new, all in one transaction (the intake's group commit): either every
// one is stored with its job or none is. inserted[i] is false for a
// delivery whose ID was already stored, or appears earlier in as.
func (q *Queue) AcceptDeliveries(ctx context.Context, as []Accept) (inserted []bool, err error) {
	params := make([]river.InsertManyParams, len(as))
	ds := make([]store.Delivery, len(as))
	for i, a := range as {
		ra, opts, err := q.prepare(a.Kind, a.Args, EnqueueOpts{})
		if err != nil {
			return nil, fmt.Errorf("accept delivery %s: %w", a.Delivery.ID, err)
		}
		params[i] = river.InsertManyParams{Args: ra, InsertOpts: opts}
		ds[i] = a.Delivery
	}
	err = q.store.InTx(ctx, func(tx *store.Tx) error {
		ins, err := tx.InsertDeliveries(ctx, ds)
		if err != nil {
			return err
		}
		fresh := params[:0:0]
		for i, ok := range ins {
			if ok {
				fresh = append(fresh, params[i])
			}
		}
		if len(fresh) > 0 {
			if err := q.inserter.insertManyTx(ctx, tx, fresh); err != nil {
				return fmt.Errorf("enqueue %d jobs: %w", len(fresh), err)
			}
		}
		inserted = ins
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept %d deliveries: %w", len(as), err)
	}
	return inserted, nil
}

// Enqueue adds a job of the given kind; args are encoded to JSON (a
// json.RawMessage or []byte is taken as already encoded).
func (q *Queue) Enqueue(ctx context.Context, kind string, args any, opts EnqueueOpts) error {
	ra, ropts, err := q.prepare(kind, args, opts)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", kind, err)
	}
	err = q.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := q.inserter.insertTx(ctx, tx, ra, ropts)
		return err
	})
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", kind, err)
	}
	return nil
}

// EnqueueTx adds a job inside the caller's transaction, so the job exists
// exactly when the caller's other writes do.
func (q *Queue) EnqueueTx(ctx context.Context, tx *store.Tx, kind string, args any, opts EnqueueOpts) error {
	ra, ropts, err := q.prepare(kind, args, opts)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", kind, err)
	}
	if _, err := q.inserter.insertTx(ctx, tx, ra, ropts); err != nil {
		return fmt.Errorf("enqueue %s: %w", kind, err)
	}
	return nil
}

// prepare encodes args and resolves the insert options for kind.
func (q *Queue) prepare(kind string, args any, opts EnqueueOpts) (rawArgs, *river.InsertOpts, error) {
	if kind == "" {
		return rawArgs{}, nil, errors.New("empty job kind")
	}
	q.mu.RLock()
	k, known := q.kinds[kind]
	q.mu.RUnlock()
	if !known && q.cfg.Workers > 0 {
		return rawArgs{}, nil, fmt.Errorf("job kind %q is not registered", kind)
	}
	data, err := encodeArgs(args)
	if err != nil {
		return rawArgs{}, nil, err
	}
	if opts.MaxAttempts < 0 {
		return rawArgs{}, nil, fmt.Errorf("negative MaxAttempts %d", opts.MaxAttempts)
	}
	ropts := &river.InsertOpts{
		MaxAttempts: cmp.Or(opts.MaxAttempts, k.opts.MaxAttempts, q.cfg.MaxAttempts),
		ScheduledAt: opts.ScheduledAt,
	}
	if slices.Contains(q.cfg.FastKinds, kind) {
		ropts.Queue = QueueFast
	}
	return rawArgs{kind: kind, data: data, uniqueKey: opts.UniqueKey}, ropts, nil
}

// encodeArgs returns args as JSON.
func encodeArgs(args any) ([]byte, error) {
	var data []byte
	switch a := args.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		data = a
	case []byte:
		data = a
	default:
		b, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("encode job args: %w", err)
		}
		return b, nil
	}
	if !json.Valid(data) {
		return nil, errors.New("encode job args: not valid JSON")
	}
	return data, nil
}
