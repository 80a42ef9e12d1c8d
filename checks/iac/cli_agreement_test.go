package iac

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// cliReport is the part of `trivy config --format json` the golden keeps
// (see testdata/golden/trivy-cli-iac/README.md for how it was produced).
type cliReport struct {
	Results []struct {
		Target            string
		Type              string
		Misconfigurations []struct {
			ID, Title, Message, Resolution, Severity, PrimaryURL, Status string
			CauseMetadata                                                struct {
				StartLine, EndLine int
			}
		}
	}
}

// agreed is what gatehouse and the trivy CLI must agree on for each finding.
type agreed struct {
	Rule, File      string
	Start, End      int
	Severity        checks.Severity
	Title, Message  string
	Resolution, URL string
}

// TestAgreesWithTrivyCLI compares the library integration with what the
// trivy CLI, built from the same module versions, reports for the fixture.
func TestAgreesWithTrivyCLI(t *testing.T) {
	data, err := os.ReadFile("../../testdata/golden/trivy-cli-iac/fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	var report cliReport
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	var want []agreed
	for _, r := range report.Results {
		for _, m := range r.Misconfigurations {
			if m.Status != "FAIL" {
				continue
			}
			sev, err := checks.ParseSeverity(m.Severity)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, agreed{m.ID, r.Target, m.CauseMetadata.StartLine, m.CauseMetadata.EndLine,
				sev, m.Title, m.Message, m.Resolution, m.PrimaryURL})
		}
	}
	if len(want) == 0 {
		t.Fatal("the golden holds no failures; regenerate it")
	}

	res := run(t, scanner(t), checks.Target{Dir: fixtureDir})
	var got []agreed
	for _, f := range res.Findings {
		got = append(got, agreed{f.RuleID, f.File, f.StartLine, f.EndLine,
			f.Severity, f.Title, f.Message, f.Remediation.Text, f.Remediation.URL})
	}

	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("trivy CLI reports %+v; gatehouse does not", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("gatehouse reports %+v; the trivy CLI does not", g)
		}
	}
}
