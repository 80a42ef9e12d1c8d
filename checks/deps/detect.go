package deps

import (
	"context"
	"fmt"

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
	"github.com/gatehouse/gatehouse/checks/internal/trivyignore"
)

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

// applyIgnoreFiles runs trivy's result filter on every result: it drops
// duplicate detections and moves what the target's trivy ignore files list
// out of the findings, file by file (in force first, then the change's).
// The ignored ones are returned.
func applyIgnoreFiles(ctx context.Context, t checks.Target, results types.Results) ([]checks.Suppressed, error) {
	files, err := trivyignore.Load(ctx, t)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		files = []trivyignore.File{{}} // the filter still drops duplicates
	}
	opts := result.FilterOptions{Severities: allSeverities()}
	var suppressed []checks.Suppressed
	for i := range results {
		locs := packageLocations(results[i])
		for _, file := range files {
			if err := result.FilterResult(ctx, &results[i], file.Conf, opts); err != nil {
				return nil, fmt.Errorf("filter %s: %w", results[i].Target, err)
			}
			for _, m := range results[i].ModifiedFindings {
				v, ok := m.Finding.(types.DetectedVulnerability)
				if !ok {
					continue
				}
				reason := fmt.Sprintf("%s in %s", m.Status, file.Name)
				if file.FromChange {
					reason = fmt.Sprintf("%s in %s, as this change edits it", m.Status, file.Name)
				}
				if m.Statement != "" {
					reason += ": " + m.Statement
				}
				suppressed = append(suppressed, checks.Suppressed{
					Finding: toFinding(results[i].Target, v, locs),
					Reason:  reason, Via: checks.ViaIgnoreFile, FromChange: file.FromChange,
				})
			}
			results[i].ModifiedFindings = nil
		}
	}
	return suppressed, nil
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
