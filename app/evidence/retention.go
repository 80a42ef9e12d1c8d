package evidence

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
)

// DefaultRetention is how long evidence is kept when
// GATEHOUSE_EVIDENCE_RETENTION is not set.
const DefaultRetention = 400 * 24 * time.Hour

// ParseRetention reads GATEHOUSE_EVIDENCE_RETENTION: a number of days
// ("400d" or "400"), or a Go duration ("9600h"). "0", "off" and "forever"
// keep evidence forever (0); empty is DefaultRetention.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return DefaultRetention, nil
	case "0", "off", "forever":
		return 0, nil
	}
	days := strings.TrimSuffix(s, "d")
	if n, err := strconv.Atoi(days); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("evidence retention %q: want a positive number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("evidence retention %q: want days (400d), a duration (9600h) or off", s)
	}
	return d, nil
}

// Prune deletes, in every repository, the records older than retention,
// from the oldest end of each chain, recording the new anchor so the chain
// still verifies. Retention 0 keeps everything. It is the periodic job's
// body; it returns the prunes that deleted something.
func (r *Recorder) Prune(ctx context.Context, retention time.Duration) ([]store.EvidencePrune, error) {
	if retention <= 0 {
		return nil, nil
	}
	now := r.now()
	cutoff := now.Add(-retention)
	repos, err := r.st.EvidenceRepos(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.EvidencePrune
	for _, repo := range repos {
		p, err := r.st.PruneEvidence(ctx, repo, cutoff, now)
		if err != nil {
			return out, err
		}
		if p.Records > 0 {
			r.log.Info("evidence pruned", slog.String("repo", repo), slog.Int64("records", p.Records),
				slog.Int64("through_seq", p.ThroughSeq), slog.Time("cutoff", cutoff))
			out = append(out, p)
		}
	}
	return out, nil
}

// RunRetention prunes once now and again at every tick, until ctx is
// done; a failed prune is logged and retried at the next tick. Run it in
// one goroutine per process (replicas pruning at once are safe: each
// repository's prune holds its chain's lock):
//
//	t := time.NewTicker(6 * time.Hour)
//	defer t.Stop()
//	go rec.RunRetention(ctx, retention, t.C)
func (r *Recorder) RunRetention(ctx context.Context, retention time.Duration, ticks <-chan time.Time) {
	if retention <= 0 {
		return
	}
	for {
		if _, err := r.Prune(ctx, retention); err != nil && ctx.Err() == nil {
			r.log.Warn("evidence retention: prune failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}
