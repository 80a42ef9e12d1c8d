package deps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/gatehouse/gatehouse/checks"
)

// cliGolden is the trivy CLI's JSON report on testdata/repos/deps with the
// fixture DB; testdata/golden/trivy-cli/README.md records the command. The
// test never runs the CLI.
var cliGolden = filepath.Join("testdata", "golden", "trivy-cli", "deps.json")

// cliReport is the part of trivy's JSON report the comparison reads.
type cliReport struct {
	Results []struct {
		Target   string
		Packages []struct {
			Name, Version string
			Identifier    struct{ PURL string }
			Locations     []struct{ StartLine, EndLine int }
		}
		Vulnerabilities []struct {
			VulnerabilityID, PkgName, InstalledVersion, FixedVersion string
			Severity, Title, PrimaryURL                              string
		}
	}
}

func readCLIGolden(t *testing.T) cliReport {
	t.Helper()
	b, err := os.ReadFile(cliGolden)
	if err != nil {
		t.Fatal(err)
	}
	var r cliReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", cliGolden, err)
	}
	return r
}

// TestAgreesWithTrivyCLI compares the library scan's findings, field by
// field, with what the trivy CLI reported on the same repository and DB.
func TestAgreesWithTrivyCLI(t *testing.T) {
	golden := readCLIGolden(t)
	var want []string
	for _, r := range golden.Results {
		lines := map[string][2]int{}
		for _, p := range r.Packages {
			if len(p.Locations) > 0 {
				lines[p.Name+"@"+p.Version] = [2]int{p.Locations[0].StartLine, p.Locations[0].EndLine}
			}
		}
		for _, v := range r.Vulnerabilities {
			sev, err := checks.ParseSeverity(v.Severity)
			if err != nil {
				t.Fatal(err)
			}
			title := v.Title
			if title == "" {
				title = fmt.Sprintf("%s@%s: %s", v.PkgName, v.InstalledVersion, v.VulnerabilityID)
			}
			l := lines[v.PkgName+"@"+v.InstalledVersion]
			want = append(want, fmt.Sprintf("%s:%d-%d %s %s@%s fixed=%q %s %q %s", r.Target, l[0], l[1],
				v.VulnerabilityID, v.PkgName, v.InstalledVersion, v.FixedVersion, sev, title, v.PrimaryURL))
		}
	}
	if len(want) == 0 {
		t.Fatal("the golden report has no vulnerabilities")
	}

	s, _ := newFixtureScanner(t)
	var got []string
	for _, f := range run(t, s, checks.Target{Dir: depsRepo}).Findings {
		r := f.Remediation
		got = append(got, fmt.Sprintf("%s:%d-%d %s %s@%s fixed=%q %s %q %s", f.File, f.StartLine, f.EndLine,
			f.RuleID, r.Package, r.InstalledVersion, r.FixedVersion, f.Severity, f.Title, r.URL))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("library and CLI disagree\nlibrary:\n  %s\nCLI:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestSBOM checks that the CycloneDX document lists every package the CLI
// listed, with package URLs, and no vulnerabilities.
func TestSBOM(t *testing.T) {
	s, _ := newFixtureScanner(t)
	res := run(t, s, checks.Target{Dir: depsRepo})
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(res.SBOM), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decode SBOM: %v\n%s", err, res.SBOM)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion < cdx.SpecVersion1_5 {
		t.Errorf("SBOM format %q spec %s, want CycloneDX 1.5 or later", bom.BOMFormat, bom.SpecVersion)
	}
	if bom.Vulnerabilities != nil && len(*bom.Vulnerabilities) > 0 {
		t.Errorf("SBOM lists %d vulnerabilities, want an inventory only", len(*bom.Vulnerabilities))
	}
	got := map[string]bool{} // package URLs of the components
	if bom.Components != nil {
		for _, c := range *bom.Components {
			if c.PackageURL != "" {
				got[c.PackageURL] = true
			}
		}
	}
	var want []string
	for _, r := range readCLIGolden(t).Results {
		for _, p := range r.Packages {
			if p.Identifier.PURL == "" {
				t.Fatalf("golden package %s@%s has no package URL", p.Name, p.Version)
			}
			want = append(want, p.Identifier.PURL)
			if !got[p.Identifier.PURL] {
				t.Errorf("SBOM has no component %s", p.Identifier.PURL)
			}
		}
	}
	if len(want) < 6 {
		t.Errorf("the golden report lists %d packages, want the fixture's", len(want))
	}
}
