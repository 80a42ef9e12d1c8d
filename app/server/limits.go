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

// busyRetry is how long a scan waits when its installation has as many
// scans running as it may; jittered so that waiting jobs do not return in
// lockstep.
const busyRetry = 3 * time.Second

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
	ok, err := s.limits.Acquire(ctx, installation, slotHolder(j))
	if err != nil {
		s.log.WarnContext(ctx, "installation concurrency not checked", slog.Int64("installation", installation), slog.String("error", err.Error()))
		return 0, ""
	}
	if !ok {
		return busyRetry + jitter(busyRetry), "installation_busy"
	}
	return 0, ""
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
