//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// nonce returns the process nonce a probe-ids scan reports.
func nonce(t *testing.T, r *sandbox.Runner, s probeSetup) string {
	t.Helper()
	res := runProbe(t, r, s, "probe-ids")
	for _, n := range res.Scope.Notes {
		if v, ok := strings.CutPrefix(n, "nonce="); ok {
			return v
		}
	}
	t.Fatal("no nonce")
	return ""
}

// TestEveryScanHasItsOwnProcess: warm children serve one job each, also
// when scans run concurrently.
func TestEveryScanHasItsOwnProcess(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: 2}, true)
	s := newProbeSetup(t, probeParams{})
	var mu sync.Mutex
	var seen []string
	var wg sync.WaitGroup
	for range 3 {
		for range 2 {
			wg.Go(func() {
				n := nonce(t, r, s)
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	slices.Sort(seen)
	if len(slices.Compact(slices.Clone(seen))) != len(seen) {
		t.Errorf("a child process served two scans: %v", seen)
	}
}

// waitFor polls cond until it holds; it bounds a wait, it measures nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPoolRecycleAndClose(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: 2}, true)
	waitFor(t, "two warm children", func() bool { return r.Status().Warm == 2 && len(sandboxProcesses(t)) >= 2 })
	before := sandboxProcesses(t)
	r.Recycle()
	waitFor(t, "fresh warm children", func() bool {
		now := sandboxProcesses(t)
		return r.Status().Warm == 2 && len(now) >= 2 && !slices.ContainsFunc(now, func(p int) bool { return slices.Contains(before, p) })
	})
	must(t, r.Close())
	if left := sandboxProcesses(t); len(left) > 0 {
		t.Errorf("children left after Close: %v", left)
	}
	s := newProbeSetup(t, probeParams{})
	if _, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: s.dir}}); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
}

// TestStrictMode: strict starts exactly when auto finds every layer.
func TestStrictMode(t *testing.T) {
	auto := newRunner(t, sandbox.Config{Pool: -1}, true)
	missing := auto.Status().Missing
	t.Logf("layers missing on this host: %v", missing)
	cfg := sandbox.Config{Mode: sandbox.ModeStrict, Pool: -1, DataDir: dataDir(t)}
	cfg.Command = probeCommand(t)
	strict, err := sandbox.New(context.Background(), cfg)
	if len(missing) > 0 {
		if !errors.Is(err, sandbox.ErrLayerMissing) {
			t.Fatalf("strict mode with %v missing: got %v, want ErrLayerMissing", missing, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("strict mode with every layer available: %v", err)
	}
	defer strict.Close()
	if st := strict.Status(); !st.OK() || len(st.Missing) > 0 {
		t.Errorf("strict status: %s", st)
	}
	runProbe(t, strict, newProbeSetup(t, probeParams{}), "probe-ids")
}

// TestOffMode: no layer, a warning on every scan, scans still work.
func TestOffMode(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := newRunner(t, sandbox.Config{Mode: sandbox.ModeOff, Pool: -1, Logger: log}, true)
	for _, l := range r.Layers() {
		if l.Active != (l.Name == sandbox.LayerTimeout || l.Name == sandbox.LayerEnv) {
			t.Errorf("off mode: layer %s active=%v", l.Name, l.Active)
		}
	}
	s := newProbeSetup(t, probeParams{})
	runProbe(t, r, s, "probe-ids")
	runProbe(t, r, s, "probe-ids")
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "sandbox is off"); n != 2 {
		t.Errorf("off mode warned %d times for 2 scans:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestChildNamespaces compares the namespaces of a waiting child (and of
// its init) with the test process's own: each must differ.
func TestChildNamespaces(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: 1}, true)
	requireLayer(t, r, sandbox.LayerUserNS, sandbox.LayerMountNS, sandbox.LayerPIDNS, sandbox.LayerNetNS, sandbox.LayerIPCNS, sandbox.LayerUTSNS)
	waitFor(t, "a warm child", func() bool { return r.Status().Warm == 1 && len(sandboxProcesses(t)) == 2 })
	for _, pid := range sandboxProcesses(t) {
		for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts"} {
			mine, err := os.Readlink("/proc/self/ns/" + ns)
			must(t, err)
			theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			must(t, err)
			if mine == theirs {
				t.Errorf("child %d shares the %s namespace %s with the server", pid, ns, mine)
			}
		}
	}
}
