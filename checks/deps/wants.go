package deps

import (
	"context"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
)

// wantsScanner holds the analyzer group Wants asks (built once).
var wantsScanner = sync.OnceValues(func() (*Scanner, error) {
	g, err := newAnalyzerGroup(1)
	if err != nil {
		return nil, err
	}
	return &Scanner{group: g}, nil
})

// Wants reports whether the dependencies check reads a regular file at p
// (slash-separated, relative to the target) of size bytes, by trivy's
// analyzers' own rules, without reading it: what a caller must hand over,
// and what a cache of this check's results must be keyed by. When the
// analyzers cannot be built it says yes.
func Wants(p string, size int64) bool {
	s, err := wantsScanner()
	if err != nil {
		return true
	}
	return s.wouldRead(context.Background(), ".", p, fileInfo{name: path.Base(p), size: size}, analyzer.AnalysisOptions{Offline: true})
}

// fileInfo is a regular file's name and size.
type fileInfo struct {
	name string
	size int64
}

func (f fileInfo) Name() string       { return f.name }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) Mode() fs.FileMode  { return 0o644 }
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return false }
func (f fileInfo) Sys() any           { return nil }
