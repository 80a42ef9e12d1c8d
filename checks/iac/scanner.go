// Package iac is gatehouse's infrastructure-as-code check: trivy's
// misconfiguration scanner, used as a library with the checks embedded in
// the trivy-checks module, over Terraform (local modules and tfvars
// included), CloudFormation, Azure ARM, Kubernetes manifests, Helm charts
// and Dockerfiles.
//
// It never touches the network and never reads outside the target: files
// are read through an os.Root without following symlinks and handed to
// trivy as in-memory filesystems, Terraform's remote module downloads and
// module cache are turned off, and no checks bundle is fetched.
package iac

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scan"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/internal/trivyignore"
)

// DefaultMaxFileSize is the largest file read when Options.MaxFileSize is 0.
const DefaultMaxFileSize = 10 << 20

var _ checks.Check = (*Scanner)(nil)

// Options configures a Scanner.
type Options struct {
	// MaxFileSize skips (and reports) candidate files larger than this many
	// bytes. 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// Logger receives gatehouse's own log lines; nil means slog.Default().
	// trivy logs through slog.Default() whatever this is.
	Logger *slog.Logger
	// CustomCheckBudget bounds the evaluation of one custom check on one
	// target, CustomScanBudget that of all of them; 0 means
	// DefaultCustomCheckBudget and DefaultCustomScanBudget.
	CustomCheckBudget time.Duration
	CustomScanBudget  time.Duration
}

// Scanner is the iac check. Build it once with New and reuse it: trivy's
// checks are compiled by the first Run that finds an IaC file and kept for
// every later one. Runs on one Scanner are serialized.
type Scanner struct {
	mu sync.Mutex
	// rego is nil until a Run needs it (compiled).
	rego        *rego.Scanner
	engine      checks.Engine
	maxFileSize int64
	log         *slog.Logger

	customCheckBudget, customScanBudget time.Duration
}

// New returns a Scanner. It does not compile trivy's embedded checks: that
// costs about 2.3 s of CPU and 64 MiB, and most scans of a pull request
// (a change with no IaC file in it, every unit read from the cache) never
// evaluate them. The sandbox keeps warm children waiting, one replaced
// after every job; compiling in each of them had cost every pull request
// that CPU while it ran beside the next one.
func New(opts Options) (*Scanner, error) {
	trivyVersion, bundleVersion := engineVersions()
	s := &Scanner{
		engine:      checks.Engine{Name: "trivy", Version: trivyVersion, DataVersion: bundleVersion},
		maxFileSize: cmp.Or(opts.MaxFileSize, DefaultMaxFileSize),
		log:         cmp.Or(opts.Logger, slog.Default()),

		customCheckBudget: cmp.Or(opts.CustomCheckBudget, DefaultCustomCheckBudget),
		customScanBudget:  cmp.Or(opts.CustomScanBudget, DefaultCustomScanBudget),
	}
	return s, nil
}

// compiled returns trivy's compiled checks, compiling them the first time.
// The caller holds s.mu.
func (s *Scanner) compiled() (*rego.Scanner, error) {
	if s.rego == nil {
		rs, err := compileChecks()
		if err != nil {
			return nil, err
		}
		s.rego = rs
	}
	return s.rego, nil
}

// Name returns checks.IaC.
func (s *Scanner) Name() string { return checks.IaC }

// Engine returns trivy's version and, as DataVersion, the version of the
// trivy-checks module whose embedded checks run.
func (s *Scanner) Engine() checks.Engine { return s.engine }

// Run scans the IaC files under t.Dir (or t.Paths inside it). Findings an
// inline #trivy:ignore comment or one of the target's trivy ignore files
// (t.Ignore) suppresses are returned in Result.Suppressed with the reason.
// The custom checks t carries run after the built-in ones (see loadCustom
// and runCustom); Result.Custom says what became of each, and their
// findings carry the check's name in Finding.Custom.
func (s *Scanner) Run(ctx context.Context, t checks.Target) (*checks.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	set, err := collect(ctx, t.Dir, t.Paths, s.maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("iac: collect files: %w", err)
	}
	ignores, err := trivyignore.Load(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	res := &checks.Result{
		Check:    checks.IaC,
		Engine:   s.engine,
		Findings: []checks.Finding{},
		Scope:    scope(set),
	}

	var all []converted
	for _, ft := range scanOrder {
		fsys, ok := set.fsys[ft]
		if !ok {
			continue
		}
		rs, err := s.compiled()
		if err != nil {
			return nil, fmt.Errorf("iac: %w", err)
		}
		results, note, err := scanType(ctx, ft, rs, fsys, set.tfvars)
		if err != nil {
			return nil, fmt.Errorf("iac: %w", err)
		}
		if note != "" {
			res.Scope.Notes = append(res.Scope.Notes, note)
		}
		if ft == detection.FileTypeHelm {
			res.Scope.Skipped = append(res.Scope.Skipped, unrenderedCharts(set.charts, results)...)
		}
		for _, r := range results {
			if r.Status() != scan.StatusPassed { // passed checks are not findings
				all = append(all, convert(r))
			}
		}
	}
	if len(t.Custom) > 0 {
		cs, err := loadCustom(t.Custom, s.engine.Version)
		if err != nil {
			return nil, fmt.Errorf("iac: custom checks: %w", err)
		}
		found, err := s.runCustom(ctx, cs, set)
		if err != nil {
			return nil, fmt.Errorf("iac: custom checks: %w", err)
		}
		all = append(all, found...)
		res.Custom = cs.statuses
	}
	for _, c := range disambiguate(dedupe(all)) {
		switch sup, ok := matchIgnore(ignores, c.ids, c.finding); {
		case c.status == scan.StatusIgnored:
			res.Suppressed = append(res.Suppressed, checks.Suppressed{Finding: c.finding, Reason: "inline #trivy:ignore comment", Via: checks.ViaInline})
		case ok:
			res.Suppressed = append(res.Suppressed, sup)
		default:
			res.Findings = append(res.Findings, c.finding)
		}
	}
	s.log.DebugContext(ctx, "iac scan done",
		slog.Int("files", res.Scope.Files), slog.Int("findings", len(res.Findings)),
		slog.Int("suppressed", len(res.Suppressed)))
	return res, nil
}

// unrenderedCharts reports the charts no result came from. trivy's Helm
// scanner skips a chart it cannot render (a dependency not vendored under
// charts/, which is never fetched; a template error) with only a log line.
func unrenderedCharts(charts []string, results scan.Results) []checks.Skip {
	var skips []checks.Skip
	for _, root := range charts {
		prefix := root + "/"
		if root == "." {
			prefix = ""
		}
		rendered := slices.ContainsFunc(results, func(r scan.Result) bool {
			return strings.HasPrefix(r.Range().GetFilename(), prefix)
		})
		if !rendered {
			skips = append(skips, checks.Skip{Path: root, Reason: "Helm chart rendered no Kubernetes resources to check: " +
				"it could not be rendered offline (a dependency not vendored under charts/, a template error) or it renders none"})
		}
	}
	return skips
}

// dedupe keeps one of each finding reported twice at the same place (a
// manifest inside a chart is seen as both Kubernetes and Helm), and sorts.
func dedupe(all []converted) []converted {
	slices.SortStableFunc(all, func(a, b converted) int { return compareFindings(a.finding, b.finding) })
	return slices.CompactFunc(all, func(a, b converted) bool {
		return a.finding.Fingerprint == b.finding.Fingerprint &&
			a.finding.StartLine == b.finding.StartLine && a.finding.EndLine == b.finding.EndLine
	})
}

// disambiguate gives the second and later findings that share a
// fingerprint (the same rule, file and content key at different places:
// two identical open ingress blocks in one security group) an ordinal in
// their content key, in line order. Identical findings are interchangeable,
// so reordering them changes nothing that matters.
func disambiguate(sorted []converted) []converted {
	n := make(map[string]int)
	for i := range sorted {
		f := &sorted[i].finding
		base := f.Fingerprint
		n[base]++
		if k := n[base]; k > 1 {
			f.Fingerprint = checks.Fingerprint(checks.IaC, f.RuleID, f.File, fmt.Sprintf("%s\n#%d", sorted[i].key, k))
		}
	}
	return sorted
}

// scope says which IaC files were checked, as what.
func scope(set *fileSet) checks.Scope {
	sc := checks.Scope{Skipped: set.skipped}
	counts := make(map[detection.FileType]int)
	paths := make([]string, 0, len(set.types))
	for p := range set.types {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		var names []string
		for _, ft := range set.types[p] {
			counts[ft]++
			names = append(names, string(ft))
		}
		sc.Inputs = append(sc.Inputs, fmt.Sprintf("%s (%s)", p, strings.Join(names, ", ")))
		sc.Files++
		sc.Bytes += set.sizes[p]
	}
	if sc.Files == 0 {
		sc.Notes = append(sc.Notes, "no infrastructure-as-code files found")
	} else {
		var parts []string
		for _, ft := range scanOrder {
			if n := counts[ft]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, ft))
			}
		}
		sc.Notes = append(sc.Notes, fmt.Sprintf("checked %d infrastructure-as-code files: %s", sc.Files, strings.Join(parts, ", ")))
	}
	if set.symlinks > maxSymlinkSkips {
		sc.Notes = append(sc.Notes, fmt.Sprintf("%d symlinks not followed (%d listed)", set.symlinks, maxSymlinkSkips))
	}
	return sc
}

func compareFindings(a, b checks.Finding) int {
	return cmp.Or(
		strings.Compare(a.File, b.File),
		cmp.Compare(a.StartLine, b.StartLine),
		strings.Compare(a.RuleID, b.RuleID),
		cmp.Compare(a.EndLine, b.EndLine),
		strings.Compare(a.Fingerprint, b.Fingerprint),
	)
}
