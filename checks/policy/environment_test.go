package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// An environment overlay is laid over the resolved policy: production sees
// its settings, an environment without one sees the repository's policy.
func TestEnvironmentOverlay(t *testing.T) {
	repo := mustParse(t, repoName, "version: 1\nenvironments:\n  Production:\n    new_findings_only: false\n    checks:\n      iac: {min_severity: medium}\n    exceptions:\n      - {id: CVE-2024-1, reason: accepted in prod}\n")
	p := mustResolve(t, Layer{Source: SourceRepo, File: repo})
	if !p.NewFindingsOnly() || len(p.Exceptions()) != 0 {
		t.Fatalf("the overlay leaked into the repository's policy: new_findings_only %v, exceptions %v", p.NewFindingsOnly(), p.Exceptions())
	}
	prod, ok := p.Environment("production")
	if !ok {
		t.Fatal("no overlay for production (names ignore case)")
	}
	if prod.NewFindingsOnly() {
		t.Error("production: new_findings_only still true")
	}
	if cp, _ := prod.Check(checks.IaC); cp.MinSeverity != checks.SeverityMedium {
		t.Errorf("production iac min_severity = %v, want medium", cp.MinSeverity)
	}
	if ex := prod.Exceptions(); len(ex) != 1 || ex[0].ID != "CVE-2024-1" || ex[0].Source != SourceRepo {
		t.Errorf("production exceptions = %+v", ex)
	}
	if prod.Hash() == p.Hash() {
		t.Error("the production policy has the repository policy's hash")
	}
	staging, ok := p.Environment("staging")
	if ok || staging != p {
		t.Errorf("staging has no overlay: got ok=%v and another policy", ok)
	}
}

// The org's enforce list holds in the repo's overlays; the org's own
// overlays may loosen what it enforces (it is the org's rule).
func TestEnvironmentOverlayEnforce(t *testing.T) {
	org := mustParse(t, orgName, `version: 1
enforce: [checks.secrets.mode, exceptions]
environments:
  sandbox:
    checks: {secrets: {mode: warn}}
`)
	repo := mustParse(t, repoName, `version: 1
environments:
  production:
    checks: {secrets: {mode: "off"}}
    exceptions:
      - {id: aws-access-token, reason: mine}
`)
	p := mustResolve(t, Layer{Source: SourceOrg, File: org}, Layer{Source: SourceRepo, File: repo})
	prod, _ := p.Environment("production")
	if cp, _ := prod.Check(checks.Secrets); cp.Mode != ModeBlock {
		t.Errorf("repo overlay switched an enforced check to %s", cp.Mode)
	}
	if len(prod.Exceptions()) != 0 {
		t.Errorf("repo overlay added exceptions the org enforces: %+v", prod.Exceptions())
	}
	notes := strings.Join(prod.Notes(), "\n")
	for _, want := range []string{"tried to set environments.production.checks.secrets.mode to off; held at block", "exception aws-access-token ignored"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	sandbox, _ := p.Environment("sandbox")
	if cp, _ := sandbox.Check(checks.Secrets); cp.Mode != ModeWarn {
		t.Errorf("org overlay: secrets mode %s, want warn", cp.Mode)
	}
}
