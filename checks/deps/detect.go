package deps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	tdb "github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/result"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"

	"github.com/gatehouse/gatehouse/checks"
)

// ignoreFiles are the trivy ignore files honoured at the target's root, in
// trivy's order of preference.
var ignoreFiles = []string{".trivyignore.yaml", ".trivyignore.yml", ".trivyignore"}

// detect looks the applications' packages up in the open DB with trivy's
// scan service, as `trivy fs --scanners vuln` does. The caller holds the DB.
func (s *Scanner) detect(ctx context.Context, apps []ftypes.Application) (types.Results, error) {
	// The applier is only used by Service.Scan (image layers), not
	// ScanTarget; the OS package scanner is not reached (library only).
	svc := local.NewService(nil, ospkg.NewScanner(), langpkg.NewScanner(), vulnerability.NewClient(tdb.Config{}))
	target := types.ScanTarget{Name: ".", Applications: apps}
	opts := types.ScanOptions{
		PkgTypes:            []string{types.PkgTypeLibrary},
		PkgRelationships:    ftypes.Relationships,
		Scanners:            types.Scanners{types.VulnerabilityScanner},
		IncludeDevDeps:      s.opts.IncludeDevDeps,
		VulnSeveritySources: []dbtypes.SourceID{"auto"},
	}
	results, _, err := svc.ScanTarget(ctx, target, opts)
	if err != nil {
		return nil, fmt.Errorf("detect vulnerabilities: %w", err)
	}
	return results, nil
}

// applyIgnoreFile runs trivy's result filter on every result: it drops
// duplicate detections and moves what the target's .trivyignore(.yaml)
// ignores out of the findings. The ignored ones are returned.
func applyIgnoreFile(ctx context.Context, dir string, results types.Results) ([]checks.Suppressed, error) {
	ignorePath, err := findIgnoreFile(dir)
	if err != nil {
		return nil, err
	}
	conf, err := result.ParseIgnoreFile(ctx, ignorePath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(ignorePath), err)
	}
	opts := result.FilterOptions{Severities: allSeverities()}
	var suppressed []checks.Suppressed
	for i := range results {
		if err := result.FilterResult(ctx, &results[i], conf, opts); err != nil {
			return nil, fmt.Errorf("filter %s: %w", results[i].Target, err)
		}
		locs := packageLocations(results[i])
		for _, m := range results[i].ModifiedFindings {
			v, ok := m.Finding.(types.DetectedVulnerability)
			if !ok {
				continue
			}
			reason := fmt.Sprintf("%s in %s", m.Status, filepath.Base(ignorePath))
			if m.Statement != "" {
				reason += ": " + m.Statement
			}
			suppressed = append(suppressed, checks.Suppressed{
				Finding: toFinding(results[i].Target, v, locs),
				Reason:  reason,
			})
		}
		results[i].ModifiedFindings = nil
	}
	return suppressed, nil
}

// findIgnoreFile returns the path of the target's ignore file, or "" when
// there is none. A symbolic link is refused rather than followed.
func findIgnoreFile(dir string) (string, error) {
	for _, name := range ignoreFiles {
		p := filepath.Join(dir, name)
		info, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return "", fmt.Errorf("read %s: %w", name, err)
		case !info.Mode().IsRegular():
			return "", fmt.Errorf("%s is not a regular file (symbolic links are not followed)", name)
		}
		return p, nil
	}
	return "", nil
}

// allSeverities keeps every severity in trivy's filter: the policy, not the
// engine, decides what matters.
func allSeverities() []dbtypes.Severity {
	out := make([]dbtypes.Severity, 0, len(dbtypes.SeverityNames))
	for i := range dbtypes.SeverityNames {
		out = append(out, dbtypes.Severity(i))
	}
	return out
}
