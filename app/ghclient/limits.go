package ghclient

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LimitStore is where replicas share GitHub's per-installation limits
// (app/store.Store implements it).
type LimitStore interface {
	PauseInstallation(ctx context.Context, id int64, until time.Time, reason string) error
	InstallationPause(ctx context.Context, id int64) (time.Time, string, error)
	AcquireInstallationSlot(ctx context.Context, id int64, holder string, limit int, ttl time.Duration) (bool, error)
	ReleaseInstallationSlot(ctx context.Context, id int64, holder string) error
}

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	Store LimitStore
	// MaxConcurrent is how many scans may run at once per installation,
	// across all replicas; 0 means no limit.
	MaxConcurrent int
	// SlotTTL is how long a claimed slot lasts when its holder never
	// releases it (its process died): longer than a scan may run.
	SlotTTL time.Duration
	// Refresh is how long a pause read from the store is trusted before it
	// is read again (default 2s): how soon a pause recorded by another
	// replica is seen by this one.
	Refresh time.Duration
	Logger  *slog.Logger
	// OnPause is called when this process records a pause (metrics);
	// limit is "primary" or "secondary".
	OnPause func(installation int64, limit string, until time.Time)
	Now     func() time.Time
}

// Limiter shares GitHub's per-installation limits between replicas through
// the store: when one replica meets a rate limit, it records a pause that
// every replica's transport honours before its next request for that
// installation, and it bounds the scans running per installation. A
// failing store never stops work: the limiter then falls back to what this
// process knows and logs.
type Limiter struct {
	cfg LimiterConfig

	mu     sync.Mutex
	pauses map[int64]pauseEntry
}

type pauseEntry struct {
	until time.Time // end of the pause (may be past)
	read  time.Time // when the store was last read
}

// NewLimiter builds a Limiter.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.Refresh <= 0 {
		cfg.Refresh = 2 * time.Second
	}
	if cfg.SlotTTL <= 0 {
		cfg.SlotTTL = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, pauses: map[int64]pauseEntry{}}
}

// PausedUntil returns when the installation may be called again; a time
// not after now means it may be called now.
func (l *Limiter) PausedUntil(ctx context.Context, id int64) time.Time {
	now := l.cfg.Now()
	l.mu.Lock()
	e, ok := l.pauses[id]
	l.mu.Unlock()
	if ok && now.Sub(e.read) < l.cfg.Refresh {
		return e.until
	}
	until, _, err := l.cfg.Store.InstallationPause(ctx, id)
	if err != nil {
		l.cfg.Logger.WarnContext(ctx, "shared rate limit not read; using this process's", slog.Int64("installation", id), slog.String("error", err.Error()))
		return e.until
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e = l.pauses[id]
	if until.After(e.until) {
		e.until = until
	}
	e.read = now
	l.pauses[id] = e
	return e.until
}

// Pause records that GitHub asked not to call the installation before
// until; limit is "primary" (x-ratelimit-remaining ran out) or "secondary"
// (Retry-After).
func (l *Limiter) Pause(ctx context.Context, id int64, until time.Time, limit string) {
	l.mu.Lock()
	e := l.pauses[id]
	longer := until.After(e.until)
	if longer {
		e.until = until
		l.pauses[id] = e
	}
	l.mu.Unlock()
	if !longer {
		return
	}
	if l.cfg.OnPause != nil {
		l.cfg.OnPause(id, limit, until)
	}
	l.cfg.Logger.WarnContext(ctx, "GitHub rate limit: installation paused on every replica",
		slog.Int64("installation", id), slog.String("limit", limit), slog.Time("until", until))
	if err := l.cfg.Store.PauseInstallation(context.WithoutCancel(ctx), id, until, limit); err != nil {
		l.cfg.Logger.WarnContext(ctx, "shared rate limit not recorded", slog.Int64("installation", id), slog.String("error", err.Error()))
	}
}

// Acquire claims one of the installation's scan slots for holder (a job's
// stable id, so that a retried job reclaims its own). It returns false
// when MaxConcurrent scans of the installation already run. Call Release
// when done.
func (l *Limiter) Acquire(ctx context.Context, id int64, holder string) (bool, error) {
	if l.cfg.MaxConcurrent <= 0 {
		return true, nil
	}
	return l.cfg.Store.AcquireInstallationSlot(ctx, id, holder, l.cfg.MaxConcurrent, l.cfg.SlotTTL)
}

// Release frees holder's slot.
func (l *Limiter) Release(ctx context.Context, id int64, holder string) {
	if l.cfg.MaxConcurrent <= 0 {
		return
	}
	if err := l.cfg.Store.ReleaseInstallationSlot(context.WithoutCancel(ctx), id, holder); err != nil {
		l.cfg.Logger.WarnContext(ctx, "installation slot not released; it expires by itself", slog.Int64("installation", id), slog.String("error", err.Error()))
	}
}
