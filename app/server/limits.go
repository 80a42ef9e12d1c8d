package server

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/queue"
)

// When a scan's installation has as many scans running as it may, the job
// first waits in place for up to busyWait, asking every busyPoll (a slot
// freed soon goes to a job that was already fetched, instead of to
// whichever job the queue hands out next), then is snoozed for busyRetry
// plus jitter, so that waiting jobs do not return in lockstep. A snoozed
// job goes behind the jobs that were due before it: under a binding bound
// the order of scans is not first come, first served.
const (
	busyWait  = 2 * time.Second
	busyPoll  = 200 * time.Millisecond
	busyRetry = 3 * time.Second
)

// admit decides whether a scan job may run now, under its installation's
// limits shared by every replica: not while the installation is paused by a
// rate limit, and not while it has InstallationConcurrency scans running.
// It returns how long to snooze and why, or 0 with the slot claimed (the
// caller releases it). A store failure admits the job: the limits protect
// GitHub from us, not the verdicts from GitHub.
func (s *Server) admit(ctx context.Context, j *queue.Job, installation int64) (time.Duration, string) {
	if until := s.limits.PausedUntil(ctx, installation); time.Until(until) > 0 {
		return time.Until(until) + jitter(time.Second), "rate_limit"
	}
	deadline := time.Now().Add(busyWait)
	for {
		ok, err := s.limits.Acquire(ctx, installation, slotHolder(j))
		if err != nil {
			s.log.WarnContext(ctx, "installation concurrency not checked", slog.Int64("installation", installation), slog.String("error", err.Error()))
			return 0, ""
		}
		if ok {
			return 0, ""
		}
		if time.Now().After(deadline) {
			return busyRetry + jitter(busyRetry), "installation_busy"
		}
		timer := time.NewTimer(busyPoll + jitter(busyPoll/2))
		select {
		case <-ctx.Done():
			timer.Stop()
			return busyRetry, "installation_busy"
		case <-timer.C:
		}
	}
}

// slotHolder names a job's installation slot: the same across the job's
// attempts, so a job rescued from a dead worker takes over its own slot.
func slotHolder(j *queue.Job) string { return "job:" + strconv.FormatInt(j.ID, 10) }

// rateLimited returns how long to wait when err is GitHub's rate limit.
func rateLimited(err error) time.Duration {
	var rl *ghclient.RateLimitError
	if !errors.As(err, &rl) {
		return 0
	}
	return max(time.Until(rl.Until), 0) + jitter(time.Second)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
