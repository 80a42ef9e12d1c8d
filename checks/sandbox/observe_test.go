//go:build linux

package sandbox_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	started int
	killed  []string
	peaks   []int64
}

func (r *recorder) ChildStarted() { r.mu.Lock(); r.started++; r.mu.Unlock() }
func (r *recorder) ChildKilled(reason string) {
	r.mu.Lock()
	r.killed = append(r.killed, reason)
	r.mu.Unlock()
}
func (r *recorder) ChildExited(peak int64) {
	r.mu.Lock()
	r.peaks = append(r.peaks, peak)
	r.mu.Unlock()
}

func (r *recorder) snapshot() (int, []string, []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started, append([]string(nil), r.killed...), append([]int64(nil), r.peaks...)
}

// The observer hears of every child started, of a child killed for its
// timeout (with that reason), and of the peak memory of each child that
// ran a scan.
func TestObserverSeesStartsKillsAndPeakMemory(t *testing.T) {
	obs := &recorder{}
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{Timeout: 3 * time.Second}, Observer: obs}, true)
	started, killedAtNew, _ := obs.snapshot() // the probing child may be dismissed
	if started == 0 {
		t.Fatal("the probing child at New was not reported as started")
	}
	s := newProbeSetup(t, probeParams{})
	runKilled(t, r, s, "probe-hang", sandbox.ErrTimeout) // then probe-env, which completes
	after, killed, peaks := obs.snapshot()
	if after != started+2 {
		t.Errorf("children started: %d after New, %d after two scans; want two more", started, after)
	}
	if killed = killed[len(killedAtNew):]; len(killed) != 1 || killed[0] != "timeout" {
		t.Errorf("kills during the scans = %v, want [timeout]", killed)
	}
	if len(peaks) != 2 {
		t.Fatalf("peak memory reported %d times, want once per scan (2)", len(peaks))
	}
	for _, p := range peaks {
		// A Go process is at least a few MiB resident.
		if p < 1<<20 {
			t.Errorf("peak RSS %d bytes: not a measurement", p)
		}
	}
}
