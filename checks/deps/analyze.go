package deps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	_ "github.com/aquasecurity/trivy/pkg/fanal/analyzer/all" // trivy registers its analyzers in init; enabledAnalyzers picks ours
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/semaphore"
	xio "github.com/aquasecurity/trivy/pkg/x/io"

	"github.com/gatehouse/gatehouse/checks"
)

// enabledAnalyzers are the analyzers of lockfiles and manifests, the set
// `trivy fs` runs: every language analyzer except those of installed
// packages (node_modules/*/package.json, jars, binaries, egg-info...) and SBOM
// files.
func enabledAnalyzers() []analyzer.Type {
	var out []analyzer.Type
	for _, t := range analyzer.TypeLanguages {
		if t == analyzer.TypeSBOM || slices.Contains(analyzer.TypeIndividualPkgs, t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// newAnalyzerGroup builds the analyzer group once per Scanner. trivy's
// registry is global and holds every analyzer the binary links (its own
// analyzer/all, the iac check's...); only an allow-list is safe, so every
// registered type outside enabledAnalyzers is disabled, and the result is
// checked.
func newAnalyzerGroup(parallel int) (analyzer.AnalyzerGroup, error) {
	enabled := enabledAnalyzers()
	var disabled []analyzer.Type
	for _, set := range [][]analyzer.Type{
		analyzer.TypeOSes, analyzer.TypeIndividualPkgs, analyzer.TypeConfigFiles,
		{
			analyzer.TypeSBOM, analyzer.TypeSecret, analyzer.TypeLicenseFile, analyzer.TypeExecutable,
			analyzer.TypeRpmArchive, analyzer.TypeDpkgLicense, analyzer.TypeAzure,
			analyzer.TypeApkCommand, analyzer.TypeHistoryDockerfile, analyzer.TypeImageConfigSecret,
			analyzer.TypeRedHatContentManifestType, analyzer.TypeRedHatDockerfileType,
		},
	} {
		disabled = append(disabled, set...)
	}
	for range 2 {
		group, err := analyzer.NewAnalyzerGroup(analyzer.AnalyzerOptions{
			Parallel:          parallel,
			DisabledAnalyzers: disabled,
		})
		if err != nil {
			return analyzer.AnalyzerGroup{}, fmt.Errorf("deps: build trivy analyzers: %w", err)
		}
		v := group.AnalyzerVersions()
		var extra []analyzer.Type
		for _, m := range []map[string]int{v.Analyzers, v.PostAnalyzers} {
			for name := range m {
				if t := analyzer.Type(name); !slices.Contains(enabled, t) {
					extra = append(extra, t)
				}
			}
		}
		if len(extra) == 0 {
			return group, nil
		}
		disabled = append(disabled, extra...)
	}
	return analyzer.AnalyzerGroup{}, errors.New("deps: cannot restrict trivy's analyzers to lockfiles")
}

// analysis is what the walk found: the applications (one per lockfile, with
// their packages) and what was read or skipped.
type analysis struct {
	apps    []ftypes.Application
	inputs  []string
	bytes   int64
	skipped []checks.Skip
}

// errProbe is what wouldRead's opener returns.
var errProbe = errors.New("probe")

// analyze walks the target (or its Paths) without following symbolic links
// or leaving t.Dir, hands every regular file to the analyzer group and
// returns the merged applications.
func (s *Scanner) analyze(ctx context.Context, t checks.Target) (*analysis, error) {
	dir, err := filepath.Abs(t.Dir)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Dir, err)
	}
	paths, err := cleanPaths(t.Paths)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	}
	defer root.Close()
	an := &analysis{}
	var present []string
	for _, p := range paths {
		if _, err := root.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			an.skipped = append(an.skipped, checks.Skip{Path: p, Reason: "does not exist"})
			continue
		}
		present = append(present, p)
	}
	starts := outermost(present)

	composite, err := s.group.PostAnalyzerFS()
	if err != nil {
		return nil, fmt.Errorf("prepare post-analysis: %w", err)
	}
	defer func() { _ = composite.Cleanup() }()

	result := analyzer.NewAnalysisResult()
	eg, egCtx := errgroup.WithContext(ctx)
	limit := semaphore.New(s.opts.Parallel)
	// Offline keeps the pom.xml analyzer away from remote Maven repositories.
	opts := analyzer.AnalysisOptions{Offline: true}

	visit := func(p string, d fs.DirEntry, walkErr error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if walkErr != nil {
			an.skipped = append(an.skipped, checks.Skip{Path: p, Reason: walkErr.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			if info, err := d.Info(); err == nil && s.wouldRead(ctx, dir, p, info, opts) {
				an.skipped = append(an.skipped, checks.Skip{Path: p, Reason: "symbolic link, not followed"})
			}
			return nil
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			an.skipped = append(an.skipped, checks.Skip{Path: p, Reason: err.Error()})
			return nil
		}
		if info.Size() > s.opts.MaxFileSize {
			if s.wouldRead(ctx, dir, p, info, opts) {
				an.skipped = append(an.skipped, checks.Skip{Path: p,
					Reason: fmt.Sprintf("%d bytes, larger than the %d-byte limit", info.Size(), s.opts.MaxFileSize), Limit: true})
			}
			return nil
		}
		opened := false // AnalyzeFile calls the opener before it returns
		open := func() (xio.ReadSeekCloserAt, error) {
			opened = true
			return root.Open(p)
		}
		if err := s.group.AnalyzeFile(egCtx, eg, limit, result, dir, p, info, open, nil, opts); err != nil {
			return fmt.Errorf("analyze %s: %w", p, err)
		}
		post := s.group.RequiredPostAnalyzers(p, info)
		if len(post) > 0 {
			if err := composite.CreateLink(post, dir, p, filepath.Join(dir, filepath.FromSlash(p))); err != nil {
				return fmt.Errorf("stage %s for post-analysis: %w", p, err)
			}
		}
		if opened || len(post) > 0 {
			an.inputs = append(an.inputs, p)
			an.bytes += info.Size()
		}
		return nil
	}
	var walkErr error
	for _, start := range starts {
		if walkErr = fs.WalkDir(root.FS(), start, visit); walkErr != nil {
			break
		}
	}
	// Wait before reporting a walk error: analyses still run in eg.
	if err := eg.Wait(); err != nil {
		return nil, fmt.Errorf("analyze lockfiles: %w", err)
	}
	if walkErr != nil {
		return nil, fmt.Errorf("walk %s: %w", t.Dir, walkErr)
	}
	if err := s.group.PostAnalyze(ctx, composite, result, opts); err != nil {
		return nil, fmt.Errorf("analyze lockfiles: %w", err)
	}
	result.Sort()

	// ApplyLayers fills package URLs and UIDs the way trivy's scan does.
	detail := applier.ApplyLayers([]ftypes.BlobInfo{{
		SchemaVersion: ftypes.BlobJSONSchemaVersion,
		Applications:  result.Applications,
	}})
	an.apps = detail.Applications
	sort.Strings(an.inputs)
	an.inputs = slices.Compact(an.inputs)
	return an, nil
}

// wouldRead reports whether an analyzer wants the file, without reading it:
// the probe opener fails before any analysis starts.
func (s *Scanner) wouldRead(ctx context.Context, dir, p string, info fs.FileInfo, opts analyzer.AnalysisOptions) bool {
	if len(s.group.RequiredPostAnalyzers(p, info)) > 0 {
		return true
	}
	probe := func() (xio.ReadSeekCloserAt, error) { return nil, errProbe }
	err := s.group.AnalyzeFile(ctx, nil, nil, nil, dir, p, info, probe, nil, opts)
	return errors.Is(err, errProbe)
}

// cleanPaths checks Target.Paths: each must be a relative path inside the
// target. No paths means the whole target.
func cleanPaths(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return []string{"."}, nil
	}
	var clean []string
	for _, p := range paths {
		c := path.Clean(p)
		if p == "" || path.IsAbs(p) || !fs.ValidPath(c) {
			return nil, fmt.Errorf("target path %q is not a relative path inside the target", p)
		}
		clean = append(clean, c)
	}
	sort.Strings(clean)
	return slices.Compact(clean), nil
}

// outermost drops the sorted paths that lie inside another one, so no file
// is analyzed twice.
func outermost(sorted []string) []string {
	if slices.Contains(sorted, ".") { // "-x" sorts before "."
		return []string{"."}
	}
	var out []string
	for _, c := range sorted {
		inside := slices.ContainsFunc(out, func(o string) bool {
			return strings.HasPrefix(c, o+"/")
		})
		if !inside {
			out = append(out, c)
		}
	}
	return out
}
