package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/metrics"
	"github.com/gatehouse/gatehouse/checks"
)

// The metrics that are read where the work happens, without the worker
// knowing: the runner and the decider the worker is given are wrapped.

// meteredRunner records, per check of each sandboxed run, its duration and
// outcome, the bytes it read and the findings it reported.
type meteredRunner struct {
	next checks.Runner
	m    *metrics.Metrics
}

func (r meteredRunner) Run(ctx context.Context, req checks.Request) (*checks.Response, error) {
	start := time.Now()
	resp, err := r.next.Run(ctx, req)
	// The checks of one request run concurrently in one child: each is
	// charged the run's wall time.
	took := time.Since(start).Seconds()
	if err != nil {
		for _, c := range req.Checks {
			r.m.CheckDuration.WithLabelValues(c, "error").Observe(took)
		}
		return resp, err
	}
	for _, res := range resp.Results {
		r.m.CheckDuration.WithLabelValues(res.Check, "ok").Observe(took)
		r.m.ScanBytes.WithLabelValues(res.Check).Add(float64(res.Scope.Bytes))
		for _, f := range res.Findings {
			r.m.Findings.WithLabelValues(res.Check, f.Severity.String()).Inc()
		}
	}
	for c := range resp.Errors {
		r.m.CheckDuration.WithLabelValues(c, "error").Observe(took)
	}
	return resp, nil
}

// countVerdicts counts the verdicts by check and conclusion.
func (s *Server) countVerdicts(vs []checks.Verdict) {
	for _, v := range vs {
		s.metrics.Verdicts.WithLabelValues(v.Check, string(v.Conclusion)).Inc()
	}
}

// observeGitHub counts every answer GitHub gives by route family and status
// and keeps each installation's remaining rate limit.
func (s *Server) observeGitHub(resp *http.Response, err error) {
	if err != nil {
		s.metrics.GitHubRequests.WithLabelValues(family(nil), "error").Inc()
		return
	}
	s.metrics.GitHubRequests.WithLabelValues(family(resp.Request), fmt.Sprint(resp.StatusCode)).Inc()
	if resp.Request == nil {
		return
	}
	if id, ok := ghclient.InstallationOf(resp.Request.Context()); ok {
		if n, perr := strconv.Atoi(resp.Header.Get("X-Ratelimit-Remaining")); perr == nil {
			s.metrics.RateLimitRemain.WithLabelValues(metrics.Installation(id)).Set(float64(n))
		}
	}
}

// watchQueue exports the queue's depth and job ages at scrape time.
func (s *Server) watchQueue(kinds []string) {
	s.metrics.WatchQueue(kinds, func(ctx context.Context) ([]metrics.KindDepth, error) {
		ds, err := s.queue.Depth(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.KindDepth, len(ds))
		for i, d := range ds {
			out[i] = metrics.KindDepth(d) // the same fields: the compiler checks it
		}
		return out, nil
	}, 3*time.Second, s.log)
}
