package deps

import (
	"bytes"
	"context"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/sbom/cyclonedx"
	"github.com/aquasecurity/trivy/pkg/types"
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
