// Package sample holds what the benchmarks share: percentiles of timings
// and the Go files a benchmark's pull requests change.
package sample

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Percentile is the p-th percentile of ds (nearest rank), to the
// millisecond.
func Percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max((len(s)*p+99)/100-1, 0)].Round(time.Millisecond)
}

// Rounded prints ds to the millisecond.
func Rounded(ds []time.Duration) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Round(time.Millisecond).String())
	}
	return out
}

// GoFiles returns n non-test Go files of the tree src, spread over it
// (slash-separated, relative to src).
func GoFiles(src string, n int) ([]string, error) {
	var all []string
	_ = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			rel, _ := filepath.Rel(src, p)
			all = append(all, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(all)
	if len(all) < n {
		return nil, fmt.Errorf("%s has only %d Go files", src, len(all))
	}
	out := make([]string, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out, nil
}
