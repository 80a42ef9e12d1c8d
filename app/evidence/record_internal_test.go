package evidence

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks"
)

// The record says which suppressions the change brought: those applied
// name their approver; those still waiting are listed apart, since their
// findings were judged unsuppressed.
func TestRecordNamesApproversAndPendingSuppressions(t *testing.T) {
	f := checks.Finding{Check: checks.Secrets, RuleID: "github-pat", File: "config/app.env", StartLine: 2, Fingerprint: "fp"}
	approved := checks.Verdict{Check: checks.Secrets, Conclusion: checks.ConclusionSuccess,
		Suppressed: []checks.Suppressed{{Finding: f, Reason: ".gitleaksignore (approved by @lead)", FromChange: true, ApprovedBy: "lead"}}}
	waiting := checks.Verdict{Check: checks.IaC, Conclusion: checks.ConclusionFailure,
		Findings: []checks.Evaluated{{Finding: f, Status: checks.StatusNew, Blocking: true, Unapplied: "inline"}},
		Pending:  []checks.Suppressed{{Finding: f, Reason: "inline #trivy:ignore comment", FromChange: true}}}
	rec := build(Input{Scan: jobs.Scan{Repo: "octo/demo", HeadSHA: "abc"}, Verdicts: []checks.Verdict{approved, waiting}}, "id", time.Now())
	if e := rec.Checks[0].Exceptions; len(e) != 1 || !e[0].FromChange || e[0].ApprovedBy != "lead" {
		t.Errorf("approved suppression recorded as %+v", e)
	}
	if c := rec.Checks[1]; len(c.Exceptions) != 0 || len(c.Pending) != 1 || c.Pending[0].Reason != "inline #trivy:ignore comment" {
		t.Errorf("pending suppression recorded as exceptions %+v, pending %+v", c.Exceptions, c.Pending)
	}
}
