// Package registry is the one list of gatehouse's checks: each entry a
// package implementing checks.Check. Adding a scanner is adding a line here.
package registry

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/bounded"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/iac"
	"github.com/gatehouse/gatehouse/checks/secrets"
)

// Names lists the built-in checks in the order users see them.
var Names = []string{checks.Secrets, checks.Dependencies, checks.IaC}

// Splitters returns each check's checks.Splitter: how to plan its units
// from paths and sizes, without loading its engine.
func Splitters() map[string]checks.Splitter {
	return map[string]checks.Splitter{
		checks.Secrets:      checks.EachFile{},
		checks.Dependencies: deps.Splitter{},
		checks.IaC:          iac.Splitter{},
	}
}

// Options configures the engines.
type Options struct {
	// DataDir holds the vulnerability DB (DataDir/vulndb).
	DataDir string
	// MaxFileSize is the largest file each scanner reads, in bytes (larger
	// ones are skipped and listed); 0 keeps each engine's default.
	MaxFileSize int64
	Logger      *slog.Logger
}

// DBDir is where the vulnerability DB lives under a data directory.
func DBDir(dataDir string) string { return filepath.Join(dataDir, "vulndb") }

// Set is the loaded checks, ready to run many scans.
type Set struct {
	Checks      []checks.Check
	Deps        *deps.Scanner
	maxFileSize int64
}

// New loads every engine once: gitleaks' rules and the vulnerability DB
// (opened read-only; a missing DB is reported per scan). trivy's IaC checks
// are compiled by the first scan that finds an IaC file (iac.New).
func New(opts Options) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sec, err := secrets.New(secrets.Options{Logger: opts.Logger, MaxFileSize: opts.MaxFileSize})
	if err != nil {
		return nil, fmt.Errorf("load secrets check: %w", err)
	}
	dep, err := deps.New(deps.Options{DBDir: DBDir(opts.DataDir), MaxFileSize: opts.MaxFileSize})
	if err != nil {
		return nil, fmt.Errorf("load dependencies check: %w", err)
	}
	ic, err := iac.New(iac.Options{Logger: opts.Logger, MaxFileSize: opts.MaxFileSize})
	if err != nil {
		_ = dep.Close()
		return nil, fmt.Errorf("load iac check: %w", err)
	}
	return &Set{Checks: []checks.Check{sec, dep, ic}, Deps: dep, maxFileSize: opts.MaxFileSize}, nil
}

// Runner runs the set in-process within the default content limits
// (checks/bounded), as the sandbox child does.
func (s *Set) Runner() checks.Runner {
	return &bounded.Runner{Checks: s.Checks, Limits: checks.Limits{MaxFileSize: s.maxFileSize}}
}

// Close releases the engines (the vulnerability DB).
func (s *Set) Close() error {
	return s.Deps.Close()
}
