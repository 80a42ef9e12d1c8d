package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one /metrics answer, parsed with Prometheus' own text parser.
type scrape map[string]metricFamily

// metricFamily is what the tests read of a parsed family: each series'
// labels and value (a histogram's value is its sample count; sum its sum).
type metricFamily struct {
	typ    string
	series []series
}

type series struct {
	labels     map[string]string
	value, sum float64
}

// scrapeMetrics GETs addr's /metrics and parses it strictly.
func scrapeMetrics(addr string) (scrape, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out := scrape{}
	for name, f := range fams {
		mf := metricFamily{typ: f.GetType().String()}
		for _, m := range f.GetMetric() {
			s := series{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			case m.Histogram != nil:
				s.value, s.sum = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			case m.Untyped != nil:
				s.value = m.GetUntyped().GetValue()
			}
			mf.series = append(mf.series, s)
		}
		out[name] = mf
	}
	return out, nil
}

func mustScrape(t *testing.T, addr string) scrape {
	t.Helper()
	s, err := scrapeMetrics(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// has reports whether the family exists with a series matching labels.
func (s scrape) has(name string, labels map[string]string) bool {
	_, n := s.total(name, labels)
	return n > 0
}

// total sums the values of the series of name whose labels include labels,
// and says how many matched.
func (s scrape) total(name string, labels map[string]string) (float64, int) {
	var sum float64
	n := 0
	for _, se := range s[name].series {
		if matches(se.labels, labels) {
			sum += se.value
			n++
		}
	}
	return sum, n
}

// max is the largest value of the matching series.
func (s scrape) max(name string, labels map[string]string) float64 {
	var m float64
	for _, se := range s[name].series {
		if matches(se.labels, labels) && se.value > m {
			m = se.value
		}
	}
	return m
}

func (s scrape) sum(name string, labels map[string]string) float64 {
	var sum float64
	for _, se := range s[name].series {
		if matches(se.labels, labels) {
			sum += se.sum
		}
	}
	return sum
}

// labelValues lists the values label takes in name's series.
func (s scrape) labelValues(name, label string) []string {
	seen := map[string]bool{}
	for _, se := range s[name].series {
		if v, ok := se.labels[label]; ok {
			seen[v] = true
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// l builds a label set from pairs.
func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// queueSampler scrapes a process's /metrics while a run goes on and keeps
// the largest queue depth and oldest-job age it saw: gauges that are back
// at zero by the end, so they can only be seen moving during the run.
type queueSampler struct {
	mu       sync.Mutex
	maxJobs  float64
	maxAge   float64
	samples  int
	stop     chan struct{}
	finished chan struct{}
}

func sampleQueue(addr string, every time.Duration) *queueSampler {
	q := &queueSampler{stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(q.finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if s, err := scrapeMetrics(addr); err == nil {
				jobs, _ := s.total("gatehouse_queue_jobs", nil)
				age := s.max("gatehouse_queue_oldest_job_age_seconds", nil)
				q.mu.Lock()
				q.maxJobs, q.maxAge = max(q.maxJobs, jobs), max(q.maxAge, age)
				q.samples++
				q.mu.Unlock()
			}
			select {
			case <-q.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return q
}

func (q *queueSampler) Stop() (maxJobs, maxAge float64, samples int) {
	close(q.stop)
	<-q.finished
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.maxJobs, q.maxAge, q.samples
}

// checkScaleMetrics asserts that every series the operations guide names
// exists on the processes of a scale-out run and moved where the run must
// have moved it. web is the web replica's last scrape; workers are the
// workers' scrapes (the killed one's taken just before its death), whose
// counters are summed.
func checkScaleMetrics(t *testing.T, n int, web scrape, workers []scrape, checkNames []string) {
	t.Helper()
	// Web: intake.
	if v, _ := web.total("gatehouse_webhooks_received_total", l("event", "pull_request", "result", "queued")); int(v) != n {
		t.Errorf("web: gatehouse_webhooks_received_total{pull_request,queued} = %v, want %d", v, n)
	}
	if v, _ := web.total("gatehouse_intake_duration_seconds", nil); int(v) != n || web.sum("gatehouse_intake_duration_seconds", nil) <= 0 {
		t.Errorf("web: gatehouse_intake_duration_seconds count = %v (want %d), sum %v", v, n, web.sum("gatehouse_intake_duration_seconds", nil))
	}
	for _, kind := range []string{"delivery", "scan"} {
		for _, state := range []string{"available", "running", "retryable", "scheduled"} {
			if !web.has("gatehouse_queue_jobs", l("kind", kind, "state", state)) {
				t.Errorf("web: no gatehouse_queue_jobs{kind=%q,state=%q}", kind, state)
			}
		}
		if !web.has("gatehouse_queue_oldest_job_age_seconds", l("kind", kind, "state", "available")) {
			t.Errorf("web: no gatehouse_queue_oldest_job_age_seconds{kind=%q}", kind)
		}
	}

	// Workers: counters summed over both.
	sum := func(name string, labels map[string]string) (float64, int) {
		var v float64
		found := 0
		for _, w := range workers {
			x, k := w.total(name, labels)
			v += x
			found += k
		}
		return v, found
	}
	mustMove := func(name string, labels map[string]string) {
		t.Helper()
		if v, k := sum(name, labels); k == 0 || v <= 0 {
			t.Errorf("workers: %s%v = %v over %d series, want > 0", name, labels, v, k)
		}
	}
	mustExist := func(name string, labels map[string]string) {
		t.Helper()
		if _, k := sum(name, labels); k == 0 {
			t.Errorf("workers: no %s%v series", name, labels)
		}
	}
	mustMove("gatehouse_job_duration_seconds", l("kind", "delivery", "outcome", "ok"))
	mustMove("gatehouse_job_duration_seconds", l("kind", "scan", "outcome", "ok"))
	mustExist("gatehouse_jobs_running", l("kind", "scan"))
	mustExist("gatehouse_jobs_snoozed_total", l("kind", "scan", "reason", "installation_busy"))
	mustExist("gatehouse_jobs_snoozed_total", l("kind", "scan", "reason", "rate_limit"))
	for _, c := range checkNames {
		mustMove("gatehouse_check_duration_seconds", l("check", c, "outcome", "ok"))
		mustMove("gatehouse_verdicts_total", l("check", c))
		mustExist("gatehouse_scan_bytes_total", l("check", c))
	}
	mustMove("gatehouse_scan_bytes_total", l("check", "secrets"))
	mustMove("gatehouse_verdicts_total", l("check", "secrets", "conclusion", "failure"))
	mustMove("gatehouse_verdicts_total", l("check", "secrets", "conclusion", "success"))
	mustMove("gatehouse_findings_total", l("check", "secrets"))
	for _, w := range workers {
		for _, sev := range w.labelValues("gatehouse_findings_total", "severity") {
			if !map[string]bool{"critical": true, "high": true, "medium": true, "low": true, "info": true}[sev] {
				t.Errorf("gatehouse_findings_total has severity %q", sev)
			}
		}
		for _, fam := range w.labelValues("gatehouse_github_requests_total", "family") {
			if strings.Contains(fam, "/") || strings.Contains(fam, "octo") {
				t.Errorf("gatehouse_github_requests_total has an unbounded family %q", fam)
			}
		}
	}
	mustMove("gatehouse_github_requests_total", l("family", "check-runs", "status", "200"))
	mustMove("gatehouse_github_requests_total", l("family", "check-runs", "status", "201"))
	mustMove("gatehouse_github_requests_total", l("family", "access_tokens", "status", "201"))
	// The fake starts each installation at 5,000 an hour and counts down.
	if v, k := sum("gatehouse_github_rate_limit_remaining", l("installation", fmt.Sprint(installation))); k == 0 || v <= 0 || v >= float64(5000*k) {
		t.Errorf("workers: gatehouse_github_rate_limit_remaining{installation=%d} = %v over %d series, want in (0, 5000)", installation, v, k)
	}
	mustExist("gatehouse_github_rate_limit_pauses_total", l("limit", "secondary"))
	mustMove("gatehouse_sandbox_children_started_total", nil)
	mustMove("gatehouse_sandbox_child_peak_rss_bytes", nil)
	for _, reason := range []string{"timeout", "output", "canceled", "dismissed"} {
		mustExist("gatehouse_sandbox_children_killed_total", l("reason", reason))
	}
	for i, w := range workers {
		// A child loads the engines: well over 16 MiB each.
		if children, _ := w.total("gatehouse_sandbox_child_peak_rss_bytes", nil); w.sum("gatehouse_sandbox_child_peak_rss_bytes", nil) < 16<<20*children {
			t.Errorf("worker %d: sandbox peak RSS sum %v for %v children: under 16 MiB each", i, w.sum("gatehouse_sandbox_child_peak_rss_bytes", nil), children)
		}
		// The fixture DB says it was built in 2030: its age is negative,
		// which is what the gauge must say (a clock or DB to look at).
		if v, k := w.total("gatehouse_vulndb_age_seconds", nil); k != 1 || v == 0 {
			t.Errorf("worker %d: gatehouse_vulndb_age_seconds = %v (%d series), want one, not 0", i, v, k)
		}
	}
}
