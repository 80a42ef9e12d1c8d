package deps

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixture repositories, relative to this package.
var (
	depsRepo  = filepath.Join("..", "..", "testdata", "repos", "deps")
	cleanRepo = filepath.Join("..", "..", "testdata", "repos", "clean")
)

func TestMain(m *testing.M) {
	flag.Parse()
	// trivy's pkg/log buffers every record until the program sets a default
	// logger; its warnings (a vulnerability without details...) are noise here.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}

// newFixtureScanner builds the fixture DB in a temporary directory and opens
// a Scanner on it, closed when the test ends.
func newFixtureScanner(t testing.TB) (*Scanner, string) {
	t.Helper()
	dbDir := filepath.Join(t.TempDir(), "db")
	depstest.BuildDB(t, dbDir)
	return openScanner(t, dbDir), dbDir
}

func openScanner(t testing.TB, dbDir string) *Scanner {
	t.Helper()
	s, err := New(Options{DBDir: dbDir})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func run(t testing.TB, s *Scanner, target checks.Target) *checks.Result {
	t.Helper()
	res, err := s.Run(context.Background(), target)
	if err != nil {
		t.Fatalf("Run(%+v): %v", target, err)
	}
	return res
}
