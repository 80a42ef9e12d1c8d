// Package metrics holds gatehouse's Prometheus metrics: one registry, the
// series the operations guide names, label values kept bounded (events,
// results, job kinds, check names, severities, route families, status
// codes, kill reasons and installation ids; never repository names).
package metrics

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the series gatehouse exports. Build one per process with New.
type Metrics struct {
	Registry *prometheus.Registry

	WebhooksReceived  *prometheus.CounterVec   // event, result
	IntakeLatency     prometheus.Histogram     // seconds from request to answer
	IntakeBatchSize   prometheus.Histogram     // deliveries per group commit
	IntakeBatchErrors prometheus.Counter       // group commits that failed
	IntakeOverloaded  prometheus.Counter       // deliveries refused with 503 beyond capacity
	Recovery          *prometheus.CounterVec   // outcome: redelivery asked, failed, skipped…
	RecoveryRuns      *prometheus.CounterVec   // outcome: ok, error, not_leader
	JobDuration       *prometheus.HistogramVec // kind, outcome
	JobsRunning       *prometheus.GaugeVec     // kind: jobs this process is working now
	JobsSnoozed       *prometheus.CounterVec   // kind, reason (rate_limit, installation_busy)
	CheckDuration     *prometheus.HistogramVec // check, outcome (ok, error)
	Verdicts          *prometheus.CounterVec   // check, conclusion
	Findings          *prometheus.CounterVec   // check, severity
	ScanBytes         *prometheus.CounterVec   // check
	GitHubRequests    *prometheus.CounterVec   // family, status
	RateLimitRemain   *prometheus.GaugeVec     // installation (bounded by installations)
	RateLimitPauses   *prometheus.CounterVec   // limit: primary, secondary
	SandboxStarts     prometheus.Counter
	SandboxKills      *prometheus.CounterVec // reason
	SandboxPeakRSS    prometheus.Histogram   // bytes
}

// New registers every series on a fresh registry (plus the Go and process
// collectors). The vulnerability DB's age and the queue are read at scrape
// time: see WatchVulnDB and WatchQueue.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	durations := prometheus.ExponentialBuckets(0.01, 2.5, 12) // 10ms … 2.5h
	m := &Metrics{
		Registry: r,
		WebhooksReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_webhooks_received_total", Help: "Webhook deliveries received, by event and result.",
		}, []string{"event", "result"}),
		IntakeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_intake_duration_seconds", Help: "Time to verify, store and enqueue a delivery.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		IntakeBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_intake_batch_size", Help: "Deliveries stored and enqueued per intake transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		IntakeBatchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_intake_batch_errors_total", Help: "Intake transactions (group commits) that failed.",
		}),
		IntakeOverloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_intake_overloaded_total", Help: "Deliveries refused with 503 because the intake was beyond its capacity (recovered later from GitHub's delivery log).",
		}),
		Recovery: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_recovery_deliveries_total", Help: "Failed deliveries found in GitHub's delivery log, by outcome (redelivery_requested, request_failed, already_stored, already_requested).",
		}, []string{"outcome"}),
		RecoveryRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_recovery_runs_total", Help: "Passes over GitHub's delivery log, by outcome (ok, error, skipped: another replica holds the lease).",
		}, []string{"outcome"}),
		JobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_job_duration_seconds", Help: "Queue job duration, by kind and outcome.",
			Buckets: durations,
		}, []string{"kind", "outcome"}),
		JobsRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_jobs_running", Help: "Jobs this process is working on now, by kind.",
		}, []string{"kind"}),
		JobsSnoozed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_jobs_snoozed_total", Help: "Jobs put back without running, by kind and reason (rate_limit, installation_busy).",
		}, []string{"kind", "reason"}),
		CheckDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_check_duration_seconds", Help: "Duration of the sandboxed run a check took part in, by check and outcome (ok, error).",
			Buckets: durations,
		}, []string{"check", "outcome"}),
		Verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_verdicts_total", Help: "Verdicts decided, by check and conclusion.",
		}, []string{"check", "conclusion"}),
		Findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_findings_total", Help: "Findings the scanners reported, by check and severity.",
		}, []string{"check", "severity"}),
		ScanBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_scan_bytes_total", Help: "Bytes scanned, by check.",
		}, []string{"check"}),
		GitHubRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_github_requests_total", Help: "GitHub API answers, by route family and status.",
		}, []string{"family", "status"}),
		RateLimitRemain: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_github_rate_limit_remaining", Help: "GitHub's x-ratelimit-remaining in the last answer, by installation.",
		}, []string{"installation"}),
		RateLimitPauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_github_rate_limit_pauses_total", Help: "Installation-wide pauses this process recorded, by limit (primary, secondary).",
		}, []string{"limit"}),
		SandboxStarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_sandbox_children_started_total", Help: "Sandbox children started.",
		}),
		SandboxKills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_sandbox_children_killed_total", Help: "Sandbox children the parent killed, by reason (timeout, output, canceled, dismissed).",
		}, []string{"reason"}),
		SandboxPeakRSS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_sandbox_child_peak_rss_bytes", Help: "Peak resident memory of each sandbox child (and what it started), at exit.",
			Buckets: prometheus.ExponentialBuckets(32<<20, 2, 8), // 32 MiB … 4 GiB
		}),
	}
	r.MustRegister(m.WebhooksReceived, m.IntakeLatency, m.IntakeBatchSize, m.IntakeBatchErrors, m.IntakeOverloaded, m.Recovery, m.RecoveryRuns, m.JobDuration, m.JobsRunning, m.JobsSnoozed, m.CheckDuration, m.Verdicts,
		m.Findings, m.ScanBytes, m.GitHubRequests, m.RateLimitRemain, m.RateLimitPauses,
		m.SandboxStarts, m.SandboxKills, m.SandboxPeakRSS)
	// Series that exist from the start, at zero, so that an alert on them
	// works before the first event (the others appear with their first).
	for _, reason := range []string{"timeout", "output", "canceled", "dismissed"} {
		m.SandboxKills.WithLabelValues(reason)
	}
	for _, limit := range []string{"primary", "secondary"} {
		m.RateLimitPauses.WithLabelValues(limit)
	}
	for _, o := range []string{"redelivery_requested", "request_failed", "already_stored", "already_requested"} {
		m.Recovery.WithLabelValues(o)
	}
	for _, o := range []string{"ok", "error", "skipped"} {
		m.RecoveryRuns.WithLabelValues(o)
	}
	return m
}

// InitKinds creates the per-kind series of the job kinds this process
// handles, at zero.
func (m *Metrics) InitKinds(kinds ...string) {
	for _, k := range kinds {
		m.JobsRunning.WithLabelValues(k)
		for _, reason := range []string{"rate_limit", "installation_busy"} {
			m.JobsSnoozed.WithLabelValues(k, reason)
		}
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// WatchVulnDB exports gatehouse_vulndb_age_seconds, read from updatedAt at
// each scrape. While it returns the zero time (no DB installed) the age is
// +Inf, so that an alert on an old DB also fires on a missing one.
func (m *Metrics) WatchVulnDB(updatedAt func() time.Time, now func() time.Time) {
	m.Registry.MustRegister(&vulnDBCollector{updatedAt: updatedAt, now: now})
}

var vulnDBAgeDesc = prometheus.NewDesc("gatehouse_vulndb_age_seconds",
	"Age of the vulnerability database (since its UpdatedAt).", nil, nil)

type vulnDBCollector struct {
	updatedAt, now func() time.Time
}

func (c *vulnDBCollector) Describe(ch chan<- *prometheus.Desc) { ch <- vulnDBAgeDesc }

func (c *vulnDBCollector) Collect(ch chan<- prometheus.Metric) {
	// +Inf while there is no DB, so the age alert fires; negative when
	// the DB claims to be from the future (a clock or a DB to look at),
	// which the gauge says as it is.
	age := math.Inf(1)
	if t := c.updatedAt(); !t.IsZero() {
		age = c.now().Sub(t).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(vulnDBAgeDesc, prometheus.GaugeValue, age)
}

// Installation is the bounded label value of an installation id.
func Installation(id int64) string { return strconv.FormatInt(id, 10) }

// SandboxObserver reports the sandbox's children to the metrics (it is a
// checks/sandbox.Observer).
type SandboxObserver struct{ M *Metrics }

// ChildStarted counts a started child.
func (o SandboxObserver) ChildStarted() { o.M.SandboxStarts.Inc() }

// ChildKilled counts a child the parent killed, by reason.
func (o SandboxObserver) ChildKilled(reason string) { o.M.SandboxKills.WithLabelValues(reason).Inc() }

// ChildExited records the peak memory of a child that ran a scan.
func (o SandboxObserver) ChildExited(peakRSS int64) {
	if peakRSS > 0 {
		o.M.SandboxPeakRSS.Observe(float64(peakRSS))
	}
}
