package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

func BenchmarkParseResolve(b *testing.B) {
	org, err := os.ReadFile("testdata/valid/org.yml")
	if err != nil {
		b.Fatal(err)
	}
	repo, err := os.ReadFile("testdata/valid/repo.yml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		o, err := Parse(orgName, org)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Parse(repoName, repo)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Resolve(Layer{SourceOrg, o}, Layer{SourceRepo, r}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate: 1,000 findings against 50 exceptions and 10 ignore
// globs, half of them on the base.
func BenchmarkEvaluate(b *testing.B) {
	var y strings.Builder
	y.WriteString("version: 1\nchecks:\n  dependencies:\n    paths:\n      ignore:\n")
	for i := range 10 {
		fmt.Fprintf(&y, "        - \"vendor%d/**\"\n", i)
	}
	y.WriteString("exceptions:\n")
	for i := range 50 {
		fmt.Fprintf(&y, "  - {id: CVE-2020-%04d, reason: r, paths: [\"legacy/**\"], expires: 2030-01-01}\n", i)
	}
	f, err := Parse(repoName, []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	p, err := Resolve(Layer{SourceRepo, f})
	if err != nil {
		b.Fatal(err)
	}
	res := &checks.Result{Check: checks.Dependencies}
	for i := range 1000 {
		res.Findings = append(res.Findings, finding(checks.Dependencies, fmt.Sprintf("CVE-2024-%04d", i), checks.Severity(i%6), fmt.Sprintf("svc%d/go.sum", i%40)))
	}
	base := BaseOf(&checks.Result{Check: checks.Dependencies, Findings: res.Findings[:500]})
	in := Input{Policy: p, Results: []*checks.Result{res}, Base: base, Now: now}
	for b.Loop() {
		Evaluate(in)
	}
}
