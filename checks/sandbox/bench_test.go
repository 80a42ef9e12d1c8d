//go:build linux

package sandbox_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// The benchmarks scan a small repository (the iac fixture: a Dockerfile,
// a Kubernetes manifest, a few Terraform files) with all three checks and
// report the median verdict latency besides Go's mean:
//
//	in-process   checks.Local in the benchmark's own process
//	warm         the sandbox, a warm child waiting (engines loaded)
//	cold         the sandbox, a child started for the scan (engines loaded on the critical path)
//
// Run: go test ./checks/sandbox -run '^$' -bench . -benchtime 20x

func benchRequest(b *testing.B) checks.Request {
	b.Helper()
	dir, err := filepath.Abs(filepath.Join(fixtures, "iac"))
	if err != nil {
		b.Fatal(err)
	}
	return checks.Request{Target: checks.Target{Dir: dir}, Checks: registry.Names}
}

// timed runs one scan per iteration, prepare (untimed) before each, and
// reports the median.
func timed(b *testing.B, r checks.Runner, req checks.Request, prepare func()) {
	b.Helper()
	var took []time.Duration
	for b.Loop() {
		if prepare != nil {
			b.StopTimer()
			prepare()
			b.StartTimer()
		}
		start := time.Now()
		resp, err := r.Run(context.Background(), req)
		took = append(took, time.Since(start))
		if err != nil || len(resp.Errors) > 0 {
			b.Fatalf("scan: %v %v", err, resp.Errors)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
}

func BenchmarkScanInProcess(b *testing.B) {
	set, err := registry.New(registry.Options{DataDir: dataDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	timed(b, set.Runner(), benchRequest(b), nil)
}

func BenchmarkScanSandboxWarm(b *testing.B) {
	r := newRunner(b, sandbox.Config{Pool: 2}, false)
	timed(b, r, benchRequest(b), func() {
		// Measure a scan that finds its child warm, as a server between
		// bursts does; the replacement starts during the timed scan.
		for r.Status().Warm < 2 {
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func BenchmarkScanSandboxCold(b *testing.B) {
	r := newRunner(b, sandbox.Config{Pool: -1}, false)
	timed(b, r, benchRequest(b), nil)
}
