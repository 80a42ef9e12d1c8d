package server

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/recovery"
)

// RecoveryConfig configures the recovery of missed deliveries from GitHub's
// delivery log (app/recovery); zero values take its defaults.
type RecoveryConfig struct {
	// Interval between passes (GATEHOUSE_RECOVERY_INTERVAL, default 5m);
	// negative turns recovery off.
	Interval time.Duration
	// Lookback bounds the first pass (GATEHOUSE_RECOVERY_LOOKBACK, default
	// and at most 72h: what GitHub keeps).
	Lookback time.Duration
	// MaxRequests and Pace bound the redeliveries asked for in one pass
	// and space them (defaults 100 and 250ms).
	MaxRequests int
	Pace        time.Duration
}

// runRecovery runs the recovery of missed deliveries until ctx is done, in
// the web and all roles (the ones GitHub delivers to). Replicas share the
// work through a lease: one pass at a time.
func (s *Server) runRecovery(ctx context.Context) {
	rc := s.cfg.Recovery
	if rc.Interval < 0 {
		return
	}
	host, _ := os.Hostname()
	recovery.New(recovery.Config{
		Store: s.store,
		App: func() (*github.Client, error) {
			f := s.app()
			if f == nil {
				return nil, nil
			}
			return f.App()
		},
		Interval: rc.Interval, Lookback: rc.Lookback, MaxRequests: rc.MaxRequests, Pace: rc.Pace,
		Holder:     host + ":" + strconv.Itoa(os.Getpid()) + ":" + s.Addr(),
		Logger:     s.log,
		Observe:    func(o string) { s.metrics.Recovery.WithLabelValues(o).Inc() },
		ObserveRun: func(o string) { s.metrics.RecoveryRuns.WithLabelValues(o).Inc() },
	}).Run(ctx)
}
