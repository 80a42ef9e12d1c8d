package policy_test

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

func Example() {
	org, err := policy.Parse("acme/.github:.github/gatehouse.yml", []byte(`version: 1
checks:
  dependencies: {min_severity: medium}
enforce: [checks.dependencies]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	repo, err := policy.Parse("acme/app:.github/gatehouse.yml", []byte(`version: 1
checks:
  dependencies: {min_severity: critical}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := policy.Resolve(policy.Layer{Source: policy.SourceOrg, File: org}, policy.Layer{Source: policy.SourceRepo, File: repo})
	if err != nil {
		fmt.Println(err)
		return
	}
	head := &checks.Result{Check: checks.Dependencies, Findings: []checks.Finding{{
		Check: checks.Dependencies, RuleID: "CVE-2024-0001", Severity: checks.SeverityHigh, File: "go.sum", Fingerprint: "f1",
	}}}
	for _, v := range policy.Evaluate(policy.Input{Policy: p, Results: []*checks.Result{head}, Now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}) {
		fmt.Println(v.Check, v.Conclusion, v.Title)
		for _, n := range v.Notes {
			fmt.Println("note:", n)
		}
	}
	// Output:
	// dependencies failure 1 new high vulnerability blocks this change
	// note: repo acme/app:.github/gatehouse.yml:3 tried to set checks.dependencies.min_severity to critical; held at medium by org enforce (acme/.github:.github/gatehouse.yml)
}
