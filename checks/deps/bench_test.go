package deps

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
)

// BenchmarkScan compares a scan on a freshly opened Scanner (the cost a
// single-use sandboxed child pays: analyzers, DB open, scan) with a scan on
// a Scanner that stays open.
func BenchmarkScan(b *testing.B) {
	dbDir := filepath.Join(b.TempDir(), "db")
	depstest.BuildDB(b, dbDir)
	target := checks.Target{Dir: depsRepo}
	ctx := context.Background()

	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			s, err := New(Options{DBDir: dbDir})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Run(ctx, target); err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		s, err := New(Options{DBDir: dbDir})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Run(ctx, target); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.Run(ctx, target); err != nil {
				b.Fatal(err)
			}
		}
	})
}
