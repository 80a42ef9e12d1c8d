package report

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// BenchmarkAnnotations turns a verdict of 700 findings into annotations
// (sent 50 a request).
func BenchmarkAnnotations(b *testing.B) {
	v := checks.Verdict{Check: checks.IaC}
	for i := range 700 {
		v.Findings = append(v.Findings, checks.Evaluated{Finding: checks.Finding{
			Check: checks.IaC, RuleID: "AVD-AWS-0086", Severity: checks.SeverityHigh, Title: "S3 bucket does not block public ACLs",
			File: fmt.Sprintf("modules/m%d/main.tf", i), StartLine: i%40 + 1, Remediation: checks.Remediation{Text: "Enable blocking"},
		}, Blocking: i%2 == 0})
	}
	b.ReportAllocs()
	for b.Loop() {
		if n := len(Annotations(v)); n != 700 {
			b.Fatal(n)
		}
	}
}
