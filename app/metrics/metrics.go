// Package metrics holds gatehouse's Prometheus metrics: one registry, the
// series the operations guide names, label values kept bounded.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the series gatehouse exports. Build one per process with New.
type Metrics struct {
	Registry *prometheus.Registry

	WebhooksReceived *prometheus.CounterVec   // event, result
	IntakeLatency    prometheus.Histogram     // seconds from request to answer
	JobDuration      *prometheus.HistogramVec // kind, outcome
	CheckDuration    *prometheus.HistogramVec // check, outcome
	Findings         *prometheus.CounterVec   // check, severity
	ScanBytes        *prometheus.CounterVec   // check
	GitHubRequests   *prometheus.CounterVec   // family, status
	RateLimitRemain  *prometheus.GaugeVec     // installation (bounded by installations)
	SandboxChildren  *prometheus.CounterVec   // event: start, kill, exit
	SandboxPeakRSS   prometheus.Histogram     // bytes
	VulnDBAge        prometheus.Gauge         // seconds
	QueueJobs        *prometheus.GaugeVec     // state
}

// New registers every series on a fresh registry (plus the Go and process
// collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		WebhooksReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_webhooks_received_total", Help: "Webhook deliveries received, by event and result.",
		}, []string{"event", "result"}),
		IntakeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_intake_duration_seconds", Help: "Time to verify, store and enqueue a delivery.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		JobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_job_duration_seconds", Help: "Queue job duration, by kind and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12),
		}, []string{"kind", "outcome"}),
		CheckDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_check_duration_seconds", Help: "Scan duration, by check and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12),
		}, []string{"check", "outcome"}),
		Findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_findings_total", Help: "Findings reported, by check and severity.",
		}, []string{"check", "severity"}),
		ScanBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_scan_bytes_total", Help: "Bytes scanned, by check.",
		}, []string{"check"}),
		GitHubRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_github_requests_total", Help: "GitHub API answers, by route family and status.",
		}, []string{"family", "status"}),
		RateLimitRemain: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_github_rate_limit_remaining", Help: "GitHub's x-ratelimit-remaining, by installation.",
		}, []string{"installation"}),
		SandboxChildren: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_sandbox_children_total", Help: "Sandbox children, by event (start, kill, exit).",
		}, []string{"event"}),
		SandboxPeakRSS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_sandbox_peak_rss_bytes", Help: "Peak resident memory of sandbox children.",
			Buckets: prometheus.ExponentialBuckets(32<<20, 2, 8),
		}),
		VulnDBAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_vulndb_age_seconds", Help: "Age of the vulnerability database (since its UpdatedAt).",
		}),
		QueueJobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_queue_jobs", Help: "Queue jobs, by state.",
		}, []string{"state"}),
	}
	r.MustRegister(m.WebhooksReceived, m.IntakeLatency, m.JobDuration, m.CheckDuration, m.Findings,
		m.ScanBytes, m.GitHubRequests, m.RateLimitRemain, m.SandboxChildren, m.SandboxPeakRSS, m.VulnDBAge, m.QueueJobs)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
