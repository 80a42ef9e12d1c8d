package iac

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// BenchmarkScan measures what reusing a Scanner saves: "new+first" builds a
// Scanner (compiling the embedded checks) and scans the fixture once;
// "reused" scans the fixture again with one Scanner built before the timer.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	target := checks.Target{Dir: fixtureDir}
	b.Run("new+first", func(b *testing.B) {
		for b.Loop() {
			s, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Run(ctx, target); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		s, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Run(ctx, target); err != nil { // the first scan, untimed
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.Run(ctx, target); err != nil {
				b.Fatal(err)
			}
		}
	})
}
