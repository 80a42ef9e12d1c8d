package report

import (
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

func TestAnnotationsLeaveExistingFindingsOut(t *testing.T) {
	finding := func(file string, status checks.Status, blocking bool) checks.Evaluated {
		return checks.Evaluated{Finding: checks.Finding{
			Check: checks.IaC, RuleID: "AVD-AWS-0086", Severity: checks.SeverityHigh, Title: "S3 bucket does not block public ACLs",
			File: file, StartLine: 3,
		}, Status: status, Blocking: blocking}
	}
	v := checks.Verdict{Check: checks.IaC, Findings: []checks.Evaluated{
		finding("new.tf", checks.StatusNew, true),
		finding("old.tf", checks.StatusExisting, false),
		finding("warned.tf", checks.StatusNew, false),
		finding("", checks.StatusNew, true), // no file: nothing to annotate
	}}
	got := Annotations(v)
	want := map[string]string{"new.tf": "failure", "warned.tf": "warning"}
	if len(got) != len(want) {
		t.Fatalf("%d annotations, want %d (the existing finding and the fileless one left out): %+v", len(got), len(want), got)
	}
	for _, a := range got {
		if want[a.GetPath()] != a.GetAnnotationLevel() {
			t.Errorf("%s annotated %q, want %q", a.GetPath(), a.GetAnnotationLevel(), want[a.GetPath()])
		}
	}
}
