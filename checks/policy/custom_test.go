package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// customFinding is a finding of a custom check, in the iac result.
func customFinding(rule string, sev checks.Severity, file string) checks.Finding {
	f := finding(checks.IaC, rule, sev, file)
	f.Custom = "octo/.github:.github/gatehouse/checks/" + strings.ToLower(rule) + ".rego"
	return f
}

// iacWithCustom is an iac result that ran the given custom checks.
func iacWithCustom(custom []checks.CustomStatus, fs ...checks.Finding) *checks.Result {
	r := result(checks.IaC, fs...)
	r.Custom = custom
	return r
}

var (
	ranOne   = []checks.CustomStatus{{Name: "octo/.github:.github/gatehouse/checks/org-1.rego", Origin: "org", ID: "ORG-1"}}
	rejected = checks.CustomStatus{Name: ".github/gatehouse/checks/net.rego", Origin: "repo", Line: 12,
		Rejected: "does not compile: calls http.send, which custom checks may not use (network access)"}
	orgHigh = customFinding("ORG-1", checks.SeverityHigh, "k8s/web.yaml")
)

// Custom findings are judged by checks.custom, built-in ones by checks.iac,
// in the one iac verdict.
func TestCustomFindingsFollowTheirOwnSettings(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		res          *checks.Result
		want         checks.Conclusion
		title        string
		blocking     int
		reasonHas    string
	}{
		{"custom blocks by default", "", iacWithCustom(ranOne, orgHigh), checks.ConclusionFailure,
			"1 new high misconfiguration blocks this change", 1, "high ≥ min_severity high"},
		{"custom in warn mode beside blocking built-in", "checks: {custom: {mode: warn}}\n", iacWithCustom(ranOne, orgHigh, iacHigh),
			checks.ConclusionFailure, "1 new high misconfiguration blocks this change (1 more not blocking)", 1, "mode warn"},
		{"custom min_severity", "checks: {custom: {min_severity: critical}}\n", iacWithCustom(ranOne, orgHigh),
			checks.ConclusionNeutral, "1 new high misconfiguration (not blocking)", 0, "below min_severity critical"},
		{"iac warn does not touch custom", "checks: {iac: {mode: warn}}\n", iacWithCustom(ranOne, orgHigh),
			checks.ConclusionFailure, "1 new high misconfiguration blocks this change", 1, "new"},
		{"custom off drops custom findings", "checks: {custom: {mode: off}}\n", iacWithCustom(nil, orgHigh),
			checks.ConclusionSuccess, "No misconfigurations found", 0, ""},
		{"iac off, custom on: only custom findings", "checks: {iac: {mode: off}}\n", iacWithCustom(ranOne, orgHigh, iacHigh),
			checks.ConclusionFailure, "1 new high misconfiguration blocks this change", 1, "new"},
		{"iac off, no custom checks: skipped", "checks: {iac: {mode: off}}\n", iacWithCustom(nil, iacHigh),
			checks.ConclusionSkipped, "Check turned off by policy", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(Input{Policy: policyOf(t, tc.policy), Results: []*checks.Result{tc.res}, Now: now})[0]
			if v.Conclusion != tc.want || v.Title != tc.title || v.Blocking() != tc.blocking {
				t.Errorf("verdict %s %q blocking %d, want %s %q blocking %d", v.Conclusion, v.Title, v.Blocking(), tc.want, tc.title, tc.blocking)
			}
			for _, f := range v.Findings {
				if f.Custom != "" && !strings.Contains(f.Reason, tc.reasonHas) {
					t.Errorf("custom finding reason %q, want it to say %q", f.Reason, tc.reasonHas)
				}
			}
		})
	}
}

func TestCustomPathsIgnore(t *testing.T) {
	pol := policyOf(t, "checks: {custom: {paths: {ignore: [\"k8s/**\"]}}}\n")
	v := Evaluate(Input{Policy: pol, Results: []*checks.Result{iacWithCustom(ranOne, orgHigh, finding(checks.IaC, "KSV-1", checks.SeverityHigh, "k8s/web.yaml"))}, Now: now})[0]
	if len(v.Suppressed) != 1 || v.Suppressed[0].Finding.RuleID != "ORG-1" || !strings.Contains(v.Suppressed[0].Reason, "checks.custom.paths.ignore") {
		t.Errorf("suppressed = %+v, want the custom finding under checks.custom.paths.ignore", v.Suppressed)
	}
	if v.Blocking() != 1 || v.Findings[0].RuleID != "KSV-1" {
		t.Errorf("the built-in finding should still block: %+v", v.Findings)
	}
}

// A custom check that did not run is never a silent pass.
func TestRejectedCustomCheck(t *testing.T) {
	statuses := append([]checks.CustomStatus{rejected}, ranOne...)
	for _, tc := range []struct {
		name, policy string
		res          *checks.Result
		want         checks.Conclusion
		title        string
		noteHas      string
	}{
		{"block fails", "", iacWithCustom(statuses), checks.ConclusionFailure,
			"Custom checks rejected: 1 custom check did not run (No misconfigurations found)", ".github/gatehouse/checks/net.rego:12"},
		{"with blocking findings, the title says both", "", iacWithCustom(statuses, orgHigh), checks.ConclusionFailure,
			"1 new high misconfiguration blocks this change; 1 custom check did not run", "see Rejected custom checks"},
		{"warn only notes", "checks: {custom: {mode: warn}}\n", iacWithCustom(statuses), checks.ConclusionSuccess,
			"No misconfigurations found", "Not blocking: checks.custom.mode is warn"},
		{"on_error neutral only notes", "on_error: neutral\n", iacWithCustom(statuses), checks.ConclusionSuccess,
			"No misconfigurations found", "Not blocking: on_error is neutral"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(Input{Policy: policyOf(t, tc.policy), Results: []*checks.Result{tc.res}, Now: now})[0]
			if v.Conclusion != tc.want || v.Title != tc.title {
				t.Errorf("verdict %s %q, want %s %q", v.Conclusion, v.Title, tc.want, tc.title)
			}
			if !strings.Contains(strings.Join(v.Notes, "\n"), tc.noteHas) {
				t.Errorf("notes %q, want %q", v.Notes, tc.noteHas)
			}
		})
	}
	// Custom checks off: a rejection (there cannot be one) is not judged.
	v := Evaluate(Input{Policy: policyOf(t, "checks: {custom: {mode: off}}\n"), Results: []*checks.Result{iacWithCustom(statuses)}, Now: now})[0]
	if v.Conclusion != checks.ConclusionSuccess {
		t.Errorf("custom off: %s %q", v.Conclusion, v.Title)
	}
}

// A repository may turn custom checks off, or to warn, only where the org
// does not enforce checks.custom.mode.
func TestRepoTurnsCustomChecksOffOnlyWhereTheOrgAllows(t *testing.T) {
	repoOff := mustParse(t, repoName, "version: 1\nchecks:\n  custom:\n    mode: off\n")
	for _, tc := range []struct {
		name, org string
		want      Mode
	}{
		{"not enforced", "version: 1\n", ModeOff},
		{"enforced", "version: 1\nenforce: [checks.custom.mode]\n", ModeBlock},
		{"enforced by prefix", "version: 1\nenforce: [checks.custom]\n", ModeBlock},
		{"org warn, enforced: repo may raise, not lower", "version: 1\nchecks: {custom: {mode: warn}}\nenforce: [checks.custom.mode]\n", ModeWarn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustResolve(t, Layer{SourceOrg, mustParse(t, orgName, tc.org)}, Layer{SourceRepo, repoOff})
			cp, _ := p.Check(Custom)
			if cp.Mode != tc.want {
				t.Errorf("checks.custom.mode = %s, want %s (notes %v)", cp.Mode, tc.want, p.Notes())
			}
			if tc.want != ModeOff && !strings.Contains(strings.Join(p.Notes(), "\n"), "held at") {
				t.Errorf("no note says the repo's setting was held: %v", p.Notes())
			}
		})
	}
}
