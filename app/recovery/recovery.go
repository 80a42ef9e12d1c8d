// Package recovery recovers the webhook deliveries gatehouse missed: GitHub
// gives a delivery ten seconds and never retries it on its own, so every
// delivery refused in a burst or sent while gatehouse was down would be a
// pull request never gated. On start and every few minutes, one replica at
// a time pages through the app's delivery log (GET /app/hook/deliveries,
// newest first), and for each delivery whose attempts all failed, that
// gatehouse acts on and that is not in the store, asks GitHub once to
// deliver it again (POST /app/hook/deliveries/{id}/attempts). What it asked
// for is recorded, so no delivery is asked for twice, and one that
// succeeded or is stored is never asked for.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/events"
	"github.com/gatehouse/gatehouse/app/store"
)

// Defaults for the zero values of Config.
const (
	DefaultInterval = 5 * time.Minute
	// DefaultLookback is how long GitHub keeps the delivery log.
	DefaultLookback    = 72 * time.Hour
	DefaultMaxRequests = 100
	DefaultPace        = 250 * time.Millisecond
	// overlap is how far before the last completed pass a pass looks
	// back, for deliveries logged late.
	overlap = 15 * time.Minute
	// maxPages bounds one pass (100 attempts a page).
	maxPages = 100
	// leaseName is the task's row in task_leases.
	leaseName = "delivery-recovery"
)

// Outcomes counted by Config.Observe.
const (
	OutcomeRequested        = "redelivery_requested"
	OutcomeRequestFailed    = "request_failed"
	OutcomeAlreadyStored    = "already_stored"
	OutcomeAlreadyRequested = "already_requested"
)

// Config configures a Recoverer.
type Config struct {
	Store *store.Store
	// App returns a client authenticated as the app (JWT), or nil while no
	// app is configured (the pass is then skipped).
	App func() (*github.Client, error)
	// Interval between passes (default 5m).
	Interval time.Duration
	// Lookback bounds how far back a pass reads the log (default and at
	// most 72h, what GitHub keeps).
	Lookback time.Duration
	// MaxRequests bounds the redeliveries asked for in one pass (default
	// 100); the rest wait for the next pass.
	MaxRequests int
	// Pace spaces the redelivery requests (default 250ms).
	Pace time.Duration
	// Holder names this process in the lease.
	Holder string
	Logger *slog.Logger
	// Observe, if set, counts each failed delivery found, by outcome.
	Observe func(outcome string)
	// ObserveRun, if set, counts each pass: ok, error or skipped (another
	// replica holds the lease).
	ObserveRun func(outcome string)
}

// Recoverer runs the passes.
type Recoverer struct {
	cfg Config
}

// New returns a Recoverer.
func New(cfg Config) *Recoverer {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Lookback <= 0 || cfg.Lookback > DefaultLookback {
		cfg.Lookback = DefaultLookback
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.Pace <= 0 {
		cfg.Pace = DefaultPace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	if cfg.ObserveRun == nil {
		cfg.ObserveRun = func(string) {}
	}
	return &Recoverer{cfg: cfg}
}

// Run makes a pass at once and then every Interval until ctx is done.
func (r *Recoverer) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("delivery recovery pass failed; next pass in "+r.cfg.Interval.String(), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Result is what one pass did.
type Result struct {
	Ran       bool     // false: no app, or another replica holds the lease
	Attempts  int      // log entries read
	Failed    int      // deliveries gatehouse acts on whose attempts all failed
	Requested []string // GUIDs asked for again
}

// Pass reads the delivery log back to the last completed pass (at most
// Lookback) and asks for the missed deliveries again.
func (r *Recoverer) Pass(ctx context.Context) (Result, error) {
	var res Result
	if r.cfg.App == nil {
		return res, nil
	}
	gh, err := r.cfg.App()
	if err != nil || gh == nil {
		return res, err
	}
	// The lease outlives a pass: its requests are paced.
	ttl := 2*time.Minute + time.Duration(r.cfg.MaxRequests)*r.cfg.Pace
	ok, last, err := r.cfg.Store.AcquireLease(ctx, leaseName, r.cfg.Holder, ttl)
	if err != nil {
		r.cfg.ObserveRun("error")
		return res, err
	}
	if !ok {
		r.cfg.ObserveRun("skipped")
		return res, nil
	}
	res.Ran = true
	start := time.Now()
	since := start.Add(-r.cfg.Lookback)
	if !last.IsZero() && last.Add(-overlap).After(since) {
		since = last.Add(-overlap)
	}
	res, err = r.pass(ctx, gh, since, res)
	var done time.Time
	if err == nil {
		done = start
	}
	// A fresh context: a shutdown must not leave the lease held.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if rerr := r.cfg.Store.ReleaseLease(rctx, leaseName, r.cfg.Holder, done); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		r.cfg.ObserveRun("error")
		return res, err
	}
	r.cfg.ObserveRun("ok")
	return res, nil
}

func (r *Recoverer) pass(ctx context.Context, gh *github.Client, since time.Time, res Result) (Result, error) {
	failed, attempts, err := Failed(ctx, gh, since)
	res.Attempts = attempts
	if err != nil {
		return res, err
	}
	res.Failed = len(failed)
	if len(failed) == 0 {
		return res, nil
	}
	guids := make([]string, len(failed))
	for i, f := range failed {
		guids[i] = f.GUID
	}
	stored, err := r.cfg.Store.DeliveryIDsStored(ctx, guids)
	if err != nil {
		return res, err
	}
	asked, err := r.cfg.Store.RedeliveriesRequested(ctx, guids)
	if err != nil {
		return res, err
	}
	pace := time.NewTicker(r.cfg.Pace)
	defer pace.Stop()
	// Oldest first: the longest-waiting pull requests are gated first.
	for i := len(failed) - 1; i >= 0; i-- {
		f := failed[i]
		log := r.cfg.Logger.With(slog.String("delivery", f.GUID), slog.String("event", f.Event), slog.Int64("installation", f.InstallationID))
		switch {
		case stored[f.GUID]:
			r.cfg.Observe(OutcomeAlreadyStored)
			continue
		case asked[f.GUID]:
			r.cfg.Observe(OutcomeAlreadyRequested)
			continue
		case len(res.Requested) >= r.cfg.MaxRequests:
			continue // the next pass
		}
		if len(res.Requested) > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-pace.C:
			}
		}
		// Recorded before asking, so that a crash in between does not ask
		// twice; forgotten again when GitHub did not take the request.
		fresh, err := r.cfg.Store.RecordRedeliveryRequest(ctx, f.GUID, f.AttemptID, f.Event, time.Now())
		if err != nil {
			return res, err
		}
		if !fresh {
			r.cfg.Observe(OutcomeAlreadyRequested)
			continue
		}
		if _, _, err := gh.Apps.RedeliverHookDelivery(ctx, f.AttemptID); err != nil && !accepted(err) {
			r.cfg.Observe(OutcomeRequestFailed)
			log.Warn("redelivery request failed; the next pass asks again", slog.String("error", err.Error()))
			if ferr := r.cfg.Store.ForgetRedeliveryRequest(context.WithoutCancel(ctx), f.GUID); ferr != nil {
				return res, ferr
			}
			continue
		}
		r.cfg.Observe(OutcomeRequested)
		res.Requested = append(res.Requested, f.GUID)
		log.Info("missed delivery: asked GitHub to redeliver it", slog.Time("failed_at", f.At), slog.Int("status_code", f.StatusCode))
	}
	return res, nil
}

// accepted reports whether err is go-github's AcceptedError: GitHub
// answers a redelivery request 202, which go-github returns as an error.
func accepted(err error) bool {
	var ae *github.AcceptedError
	return errors.As(err, &ae)
}

// Missed is a delivery whose attempts all failed.
type Missed struct {
	GUID           string
	AttemptID      int64 // the newest attempt, to redeliver
	Event, Action  string
	InstallationID int64
	StatusCode     int // of the newest attempt; 0 when GitHub could not connect
	At             time.Time
}

// Failed pages through the delivery log, newest first, back to since, and
// returns the deliveries of events gatehouse acts on none of whose attempts
// there succeeded (2xx or 3xx), newest first, and how many attempts it read.
func Failed(ctx context.Context, gh *github.Client, since time.Time) ([]Missed, int, error) {
	type state struct {
		ok     bool
		newest *github.HookDelivery
	}
	seen := map[string]*state{}
	var order []string
	opts := &github.ListCursorOptions{PerPage: 100}
	attempts := 0
	for page := 0; page < maxPages; page++ {
		ds, resp, err := gh.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return nil, attempts, fmt.Errorf("list webhook deliveries: %w", err)
		}
		older := false
		for _, d := range ds {
			if d.GetDeliveredAt().Before(since) {
				older = true
				break
			}
			attempts++
			g := d.GetGUID()
			st := seen[g]
			if st == nil {
				st = &state{newest: d}
				seen[g] = st
				order = append(order, g)
			}
			if c := d.GetStatusCode(); c >= 200 && c < 400 {
				st.ok = true
			}
		}
		if older || resp == nil || resp.Cursor == "" || len(ds) == 0 {
			break
		}
		opts.Cursor = resp.Cursor
	}
	var out []Missed
	for _, g := range order {
		st := seen[g]
		d := st.newest
		if st.ok || !events.Wants(d.GetEvent(), d.GetAction()) {
			continue
		}
		out = append(out, Missed{
			GUID: g, AttemptID: d.GetID(), Event: d.GetEvent(), Action: d.GetAction(),
			InstallationID: d.GetInstallationID(), StatusCode: d.GetStatusCode(), At: d.GetDeliveredAt().Time,
		})
	}
	return out, attempts, nil
}
