//go:build linux

package sandbox_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The test binary is its own sandbox child: started with ChildCommand as
// its first argument it serves one job, like `gatehouse sandbox-child`,
// with the probe checks (probe_test.go) added to the real engines. A second
// argument "probes" skips the engines, which the escape tests do not need.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.ChildCommand {
		probesOnly := len(os.Args) > 2 && os.Args[2] == "probes"
		if err := sandbox.ServeChild(context.Background(), testLoader(probesOnly)); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	code := m.Run()
	if shared.root != "" {
		_ = os.RemoveAll(shared.root)
	}
	os.Exit(code)
}

func testLoader(probesOnly bool) sandbox.Loader {
	return func(ctx context.Context, opts sandbox.LoadOptions, log *slog.Logger) ([]checks.Check, func() error, error) {
		if probesOnly {
			return probeChecks(), nil, nil
		}
		set, err := registry.New(registry.Options{DataDir: opts.DataDir, MaxFileSize: opts.MaxFileSize, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return append(set.Checks, probeChecks()...), set.Close, nil
	}
}

// shared holds what every test reads, readable by the sandbox user: a data
// directory with the fixture vulnerability DB, and a copy of this test
// binary (go test builds it in a directory only root can enter).
var shared struct {
	once, dbOnce, binOnce sync.Once
	root, dataDir, binary string
	err, dbErr, binErr    error
}

// sharedRoot returns the directory holding the shared fixtures.
func sharedRoot(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		shared.root, shared.err = os.MkdirTemp("", "sandboxtest-")
		if shared.err == nil {
			shared.err = os.Chmod(shared.root, 0o755)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.root
}

// dataDir returns the shared data directory, built on first use.
func dataDir(t testing.TB) string {
	t.Helper()
	root := sharedRoot(t)
	shared.dbOnce.Do(func() {
		shared.dataDir = filepath.Join(root, "data")
		depstest.BuildDB(t, registry.DBDir(shared.dataDir))
		shared.dbErr = openUp(shared.dataDir)
	})
	if shared.dbErr != nil {
		t.Fatal(shared.dbErr)
	}
	return shared.dataDir
}

// childBinary returns the copy of this test binary the children run.
func childBinary(t testing.TB) string {
	t.Helper()
	root := sharedRoot(t)
	shared.binOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			shared.binErr = err
			return
		}
		b, err := os.ReadFile(exe)
		if err != nil {
			shared.binErr = err
			return
		}
		shared.binary = filepath.Join(root, "sandbox-child.test")
		shared.binErr = os.WriteFile(shared.binary, b, 0o755)
	})
	if shared.binErr != nil {
		t.Fatal(shared.binErr)
	}
	return shared.binary
}

// worldDir returns a new directory the sandbox user can read (t.TempDir
// makes 0700 directories).
func worldDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := openUp(filepath.Dir(dir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openUp makes everything under root readable and searchable by everyone,
// as a checkout made with the default umask is.
func openUp(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
}

// probeCommand starts this test binary as a child with the probes only.
func probeCommand(t testing.TB) []string {
	t.Helper()
	return []string{childBinary(t), sandbox.ChildCommand, "probes"}
}

// newRunner starts a Runner whose children are this test binary.
func newRunner(t testing.TB, cfg sandbox.Config, probesOnly bool) *sandbox.Runner {
	t.Helper()
	cfg.Command = probeCommand(t)
	if !probesOnly {
		cfg.Command = cfg.Command[:2]
	}
	if cfg.DataDir == "" {
		cfg.DataDir = dataDir(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("sandbox.New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// requireLayer skips the test, naming the layer, when the host does not
// offer it; the other layers are still tested by the other tests.
func requireLayer(t *testing.T, r *sandbox.Runner, names ...string) {
	t.Helper()
	for _, l := range r.Layers() {
		for _, n := range names {
			if l.Name == n && !l.Active {
				testenv.CannotRun(t, "layer %s unavailable on this host: %s", n, l.Detail)
			}
		}
	}
}
