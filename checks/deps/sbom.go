package deps

import (
	"bytes"
	"context"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/sbom/cyclonedx"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/gatehouse/gatehouse/checks"
)

// reportSchemaVersion is trivy's JSON report schema version (pkg/report),
// set on the report handed to the CycloneDX marshaler.
const reportSchemaVersion = 2

// sbom renders the packages found as a CycloneDX JSON document with trivy's
// marshaler (the `trivy fs --format cyclonedx` output). Vulnerabilities are
// left out: the SBOM is the inventory of the commit, which does not change
// when the database does.
func (s *Scanner) sbom(ctx context.Context, results types.Results) ([]byte, error) {
	inventory := make(types.Results, 0, len(results))
	for _, r := range results {
		r.Vulnerabilities = nil
		r.ModifiedFindings = nil
		inventory = append(inventory, r)
	}
	report := types.Report{
		SchemaVersion: reportSchemaVersion,
		ArtifactName:  ".",
		ArtifactType:  ftypes.TypeFilesystem,
		Results:       inventory,
	}
	m := cyclonedx.NewMarshaler(s.version)
	bom, err := m.MarshalReport(ctx, report)
	if err != nil {
		return nil, fmt.Errorf("build CycloneDX SBOM: %w", err)
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return nil, fmt.Errorf("encode CycloneDX SBOM: %w", err)
	}
	return buf.Bytes(), nil
}

// Inventory is the CycloneDX SBOM of the lockfiles and manifests under
// t.Dir, made without the vulnerability database: listing components needs
// no vulnerability data (the SBOM Run makes carries none either).
func (s *Scanner) Inventory(ctx context.Context, t checks.Target) ([]byte, error) {
	if s.closed.Load() {
		return nil, errScannerClosed
	}
	an, err := s.analyze(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("dependencies inventory: %w", err)
	}
	results := make(types.Results, 0, len(an.apps))
	for _, app := range an.apps {
		results = append(results, types.Result{Target: app.FilePath, Class: types.ClassLangPkg, Type: app.Type, Packages: app.Packages})
	}
	return s.sbom(ctx, results)
}
