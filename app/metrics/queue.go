package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KindDepth is the load of one job kind (app/queue.KindDepth, copied here
// so that metrics does not depend on the queue).
type KindDepth struct {
	Kind                         string
	Available, Running           int
	Retryable, Scheduled         int
	OldestWaiting, OldestRunning time.Duration
}

// WatchQueue exports gatehouse_queue_jobs{kind,state} and
// gatehouse_queue_oldest_job_age_seconds{kind,state}, read from depth at
// each scrape (bounded by timeout; a failed read exports nothing and logs).
// The kinds listed are exported with zeros when they have no jobs, so
// their series exist on an idle queue.
func (m *Metrics) WatchQueue(kinds []string, depth func(ctx context.Context) ([]KindDepth, error), timeout time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.Registry.MustRegister(&queueCollector{kinds: kinds, depth: depth, timeout: timeout, log: log})
}

var (
	queueJobsDesc = prometheus.NewDesc("gatehouse_queue_jobs",
		"Unfinished queue jobs, by kind and state (available, running, retryable, scheduled).", []string{"kind", "state"}, nil)
	queueAgeDesc = prometheus.NewDesc("gatehouse_queue_oldest_job_age_seconds",
		"Age of the oldest job, by kind and state: available since it became due, running since its attempt started.", []string{"kind", "state"}, nil)
)

type queueCollector struct {
	kinds   []string
	depth   func(ctx context.Context) ([]KindDepth, error)
	timeout time.Duration
	log     *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueJobsDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ds, err := c.depth(ctx)
	if err != nil {
		c.log.Warn("metrics: queue depth not read", slog.String("error", err.Error()))
		return
	}
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.Kind] = true
	}
	for _, k := range c.kinds {
		if !seen[k] {
			ds = append(ds, KindDepth{Kind: k})
		}
	}
	for _, d := range ds {
		for state, n := range map[string]int{"available": d.Available, "running": d.Running, "retryable": d.Retryable, "scheduled": d.Scheduled} {
			ch <- prometheus.MustNewConstMetric(queueJobsDesc, prometheus.GaugeValue, float64(n), d.Kind, state)
		}
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, d.OldestWaiting.Seconds(), d.Kind, "available")
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, d.OldestRunning.Seconds(), d.Kind, "running")
	}
}
