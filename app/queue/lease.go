package queue

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/gatehouse/gatehouse/app/store"
)

// DefaultLease is how long a running job's lease lasts without renewal on
// Postgres (Config.Lease).
const DefaultLease = 20 * time.Second

// leaseRenewals is how often a lease is renewed within its length.
const leaseRenewals = 4

// errLeaseLost cancels a handler whose job was given to another worker.
var errLeaseLost = errors.New("the job's lease was lost: it is retried by another worker")

// Leases. river v0.49 has no heartbeat: its rescuer retries a job left
// "running" once its attempted_at is older than RescueStuckJobsAfter, and
// even then only once the job's own timeout has passed since attempted_at
// (a 10-minute scan timeout meant a dead worker's scan waited more than 10
// minutes). So each running job holds a lease instead:
//
//   - its worker moves the job's attempted_at to now every Lease/4
//     (holdLease), so a live job's attempted_at is always recent;
//   - RescueStuckJobsAfter is the lease, so river's rescuer (every 30 s,
//     on the leader) finds a dead worker's job once its lease ran out;
//   - the kind's Timeout, which the rescuer consults too, answers 1 ns for
//     a job whose attempted_at is older than the lease and whose last
//     attempt is another client's: the rescuer then retries it instead of
//     waiting for the timeout. The executor asks about a job this client
//     has just fetched (its own attempt) and always gets the real timeout,
//     however long the fetch took.
//
// A dead worker's job is thus retried within about Lease + 30 s (plus a
// leader election when the dead process was the leader). Clocks of the
// database and the workers must agree to well within the lease (NTP).
// SQLite needs none of this: one process owns the data directory, and it
// requeues its predecessor's running jobs when it starts.

// lease returns the lease of running jobs, 0 when leases are off.
func (q *Queue) lease() time.Duration {
	if q.store.Driver() != store.DriverPostgres || q.cfg.Lease < 0 {
		return 0
	}
	return cmp.Or(q.cfg.Lease, DefaultLease)
}

// leaseExpired reports whether river's rescuer asks about a job whose
// lease ran out (see above); self is this client's id.
func leaseExpired(rj *river.Job[rawArgs], lease time.Duration, self string) bool {
	if lease <= 0 || rj.AttemptedAt == nil || time.Since(*rj.AttemptedAt) <= lease {
		return false
	}
	by := rj.AttemptedBy
	return len(by) == 0 || by[len(by)-1] != self
}

// clientID names this process's worker client in river (attempted_by,
// leader election): the host and a random part, unique per start.
func clientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", " ", "_").Replace(cmp.Or(host, "unknown_host"))
	if len(host) > 60 {
		host = host[:60]
	}
	return "gatehouse_" + host + "_" + strings.ToLower(rand.Text())
}

// holdLease renews the lease of the job rj until the returned stop is
// called. When the job is no longer this attempt's (the rescuer gave it
// away after renewals failed), it cancels the handler with errLeaseLost.
func (q *Queue) holdLease(ctx context.Context, rj *river.Job[rawArgs], lease time.Duration, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(lease / leaseRenewals)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, lease/leaseRenewals)
			held, err := q.store.RenewJobLease(rctx, rj.ID, rj.Attempt)
			rcancel()
			switch {
			case err != nil && ctx.Err() == nil:
				q.log.Warn("could not renew a job's lease", slog.Int64("job_id", rj.ID), slog.String("kind", rj.Kind), slog.String("error", err.Error()))
			case err == nil && !held:
				q.log.Warn("job lease lost; stopping this attempt", slog.Int64("job_id", rj.ID), slog.String("kind", rj.Kind), slog.Int("attempt", rj.Attempt))
				cancel(errLeaseLost)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
