// Package deps is gatehouse's dependencies check: it reads the lockfiles and
// manifests of a checkout with trivy's language analyzers (used as a Go
// library, never the trivy CLI), looks their packages up in trivy's
// vulnerability database and reports each known vulnerability as a
// checks.Finding, with the fixed version to upgrade to and a CycloneDX SBOM
// of the packages found.
//
// It also manages that database: UpdateDB downloads it from an OCI
// repository with trivy's own download code, ImportDB installs a copy for
// air-gapped servers, DBStatus describes what is installed. Both installers
// write next to the target and swap directories atomically, so a Scanner
// never opens a half-written database.
//
// Everything runs offline: the pom.xml analyzer does not resolve from remote
// Maven repositories, no Java DB, VEX document or license data is fetched.
//
// trivy keeps the open DB in a process-global handle; this package is the
// only one in gatehouse that touches it, and allows one DB directory per
// process (ErrDBInUse).
//
// trivy's pkg/log replaces slog's default logger at init with a handler that
// buffers every record until the program sets its own: a program using this
// package must call RouteLogs (gatehouse's scan, serve and sandbox child
// do), which also lowers trivy's lines to the levels they mean here.
package deps

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"

	"github.com/gatehouse/gatehouse/checks"
)

// trivyModule is the module whose version Engine reports.
const trivyModule = "github.com/aquasecurity/trivy"

// trivyFallbackVersion is reported when the binary carries no build info
// (go.mod pins this version).
const trivyFallbackVersion = "v0.72.0"

// DefaultMaxFileSize is the largest lockfile or manifest read when
// Options.MaxFileSize is zero.
const DefaultMaxFileSize = 64 << 20

var errScannerClosed = errors.New("dependencies check: scanner is closed")

// Options configures a Scanner.
type Options struct {
	// DBDir is the directory holding trivy.db and metadata.json (trivy's
	// "<cache-dir>/db"). Required; it need not exist yet.
	DBDir string
	// MaxFileSize is the largest input file read, in bytes; larger ones are
	// listed in Scope.Skipped. Zero means DefaultMaxFileSize.
	MaxFileSize int64
	// Parallel is how many files are parsed at once; zero means trivy's
	// default (5).
	Parallel int
	// IncludeDevDeps also reports development dependencies (npm
	// devDependencies and the like), which trivy leaves out by default.
	IncludeDevDeps bool
}

// Scanner is the dependencies check. It is safe for concurrent use; build
// one per process with New and Close it on shutdown.
type Scanner struct {
	opts      Options
	group     analyzer.AnalyzerGroup
	version   string
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ checks.Check = (*Scanner)(nil)

// New prepares a Scanner and opens the vulnerability database in
// opts.DBDir if one is installed. A missing database is not an error: Run
// returns ErrNoDB until one is installed.
func New(opts Options) (*Scanner, error) {
	if opts.DBDir == "" {
		return nil, errors.New("deps: Options.DBDir is required")
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	group, err := newAnalyzerGroup(opts.Parallel)
	if err != nil {
		return nil, err
	}
	if err := theDB.acquire(opts.DBDir); err != nil {
		return nil, fmt.Errorf("deps: %w", err)
	}
	return &Scanner{opts: opts, group: group, version: trivyVersion()}, nil
}

// Close releases the vulnerability database; the last open Scanner closes
// it. Close is idempotent.
func (s *Scanner) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = theDB.release()
	})
	return s.closeErr
}

// Reload closes the database and opens the one now installed in DBDir,
// after UpdateDB or ImportDB swapped it. Scans in progress finish first.
// When the installed database cannot be opened, the open one stays in use
// and the error says why.
func (s *Scanner) Reload() error {
	if s.closed.Load() {
		return errScannerClosed
	}
	return theDB.reload()
}

// Name returns checks.Dependencies.
func (s *Scanner) Name() string { return checks.Dependencies }

// Engine names trivy, its module version and the open database's version
// ("v2@<UpdatedAt in RFC 3339>"; empty when no database is open).
func (s *Scanner) Engine() checks.Engine {
	e := checks.Engine{Name: "trivy", Version: s.version}
	if meta, ok := theDB.metadata(); ok {
		e.DataVersion = dataVersion(meta)
	}
	return e
}

// Run scans the lockfiles and manifests under t.Dir (or t.Paths) and
// reports their known vulnerabilities. Without a database, a tree with
// nothing to match passes (it needs no DB); one with lockfiles or
// manifests gets an error wrapping ErrNoDB.
func (s *Scanner) Run(ctx context.Context, t checks.Target) (*checks.Result, error) {
	if s.closed.Load() {
		return nil, errScannerClosed
	}
	meta, unlock, err := theDB.read()
	if errors.Is(err, ErrNoDB) {
		return s.runWithoutDB(ctx, t, err)
	}
	if err != nil {
		return nil, fmt.Errorf("dependencies check: %w", err)
	}
	defer unlock()

	an, err := s.analyze(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("dependencies check: %w", err)
	}
	results, err := s.detect(ctx, an.apps)
	if err != nil {
		return nil, fmt.Errorf("dependencies check: %w", err)
	}
	suppressed, err := applyIgnoreFiles(ctx, t, results)
	if err != nil {
		return nil, fmt.Errorf("dependencies check: %w", err)
	}
	sbom, err := s.sbom(ctx, results)
	if err != nil {
		return nil, fmt.Errorf("dependencies check: %w", err)
	}
	res := &checks.Result{
		Check:      checks.Dependencies,
		Engine:     checks.Engine{Name: "trivy", Version: s.version, DataVersion: dataVersion(meta)},
		Findings:   toFindings(results),
		Suppressed: suppressed,
		Scope:      an.scope(results),
		SBOM:       sbom,
	}
	return res, nil
}

// runWithoutDB answers a scan when no vulnerability database is
// installed: nothing to match is a pass; anything to match is an error,
// for no verdict can be given on it.
func (s *Scanner) runWithoutDB(ctx context.Context, t checks.Target, dbErr error) (*checks.Result, error) {
	an, err := s.analyze(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("dependencies check: %w", err)
	}
	if len(an.inputs) > 0 {
		what := fmt.Sprintf("%d lockfiles or manifests", len(an.inputs))
		if len(an.inputs) == 1 {
			what = "1 lockfile or manifest"
		}
		return nil, fmt.Errorf("dependencies check: %s to match and %w", what, dbErr)
	}
	sc := an.scope(nil)
	sc.Notes = append(sc.Notes, "no vulnerability DB installed; none was needed")
	return &checks.Result{Check: checks.Dependencies, Engine: checks.Engine{Name: "trivy", Version: s.version}, Scope: sc}, nil
}

func dataVersion(meta metadata.Metadata) string {
	return fmt.Sprintf("v%d@%s", meta.Version, meta.UpdatedAt.UTC().Format(time.RFC3339))
}

// trivyVersion reads trivy's module version from the build info.
func trivyVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return trivyFallbackVersion
	}
	for _, m := range bi.Deps {
		if m.Path != trivyModule {
			continue
		}
		if m.Replace != nil && m.Replace.Version != "" {
			return m.Replace.Version
		}
		return m.Version
	}
	return trivyFallbackVersion
}
