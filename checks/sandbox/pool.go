package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The pool: Config.Pool fillers each keep one warm child (started, hardened,
// engines loaded) and hand it to the next Run over an unbuffered channel;
// a filler starts the replacement as soon as its child is taken. With no
// pool, each Run starts its own child.

// take returns a ready child: a warm one from the pool, or a cold one when
// the pool is off.
func (r *Runner) take(ctx context.Context) (*child, error) {
	if r.cfg.Pool == 0 {
		return r.startReady(ctx)
	}
	for {
		select {
		case c := <-r.ready:
			select {
			case <-c.exited: // died while idle
				c.cleanup()
				continue
			default:
				return c, nil
			}
		case err := <-r.startErrs:
			return nil, err
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: no sandbox child became ready in %s", ErrTimeout, r.cfg.Limits.Timeout)
			}
			return nil, ctx.Err()
		case <-r.done:
			return nil, ErrClosed
		}
	}
}

// startReady starts a child and waits until its engines are loaded.
func (r *Runner) startReady(ctx context.Context) (*child, error) {
	c, err := r.spawn(r.variant, false)
	if err != nil {
		return nil, err
	}
	if err := c.awaitReady(ctx, r.cfg.Limits.Timeout); err != nil {
		c.cleanup()
		return nil, err
	}
	r.noteLayers(c.ready.Layers)
	r.log.Debug("sandbox child ready", slog.Int64("load_ms", c.ready.LoadMillis))
	return c, nil
}

// fill keeps one warm child waiting for a job, and starts its replacement
// as soon as it is taken.
func (r *Runner) fill(ctx context.Context) {
	defer r.wg.Done()
	backoff := time.Second
	for ctx.Err() == nil {
		recycle := r.recycleChan()
		c, err := r.startReady(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			r.lastStartErr = err.Error()
			r.mu.Unlock()
			r.log.Error("sandbox child failed to start", slog.Any("err", err))
			timer := time.NewTimer(backoff)
			select {
			case r.startErrs <- err:
			case <-timer.C:
			case <-ctx.Done():
			}
			timer.Stop()
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		r.mu.Lock()
		r.lastStartErr = ""
		r.mu.Unlock()
		r.warm.Add(1)
		select {
		case r.ready <- c:
		case <-c.exited:
			r.log.Warn("warm sandbox child died while idle")
			c.cleanup()
		case <-recycle:
			c.cleanup()
		case <-ctx.Done():
			c.cleanup()
		}
		r.warm.Add(-1)
	}
}

func (r *Runner) recycleChan() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recycle
}

// Recycle replaces the warm children with fresh ones, which load the
// engines (and the vulnerability DB) again: call it after the DB is
// updated.
func (r *Runner) Recycle() {
	r.mu.Lock()
	close(r.recycle)
	r.recycle = make(chan struct{})
	r.mu.Unlock()
}
