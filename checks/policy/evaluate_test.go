package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// finding builds a finding; its fingerprint is derived from rule and file.
func finding(check, rule string, sev checks.Severity, file string) checks.Finding {
	return checks.Finding{Check: check, RuleID: rule, Severity: sev, File: file, StartLine: 3,
		Fingerprint: checks.Fingerprint(check, rule, file, "")}
}

func fixed(f checks.Finding, version string) checks.Finding {
	f.Remediation.FixedVersion = version
	return f
}

func result(check string, fs ...checks.Finding) *checks.Result {
	return &checks.Result{Check: check, Findings: fs}
}

// limited is a result whose scope skipped files; an IaC one also holds a
// medium finding (below the default bar).
func limited(check string, skips ...checks.Skip) *checks.Result {
	r := result(check)
	if check == checks.IaC {
		r = result(check, iacMedium)
	}
	r.Scope.Skipped = skips
	return r
}

func policyOf(t *testing.T, yaml string) *Policy {
	t.Helper()
	return mustResolve(t, Layer{SourceRepo, mustParse(t, repoName, "version: 1\n"+yaml)})
}

var (
	depHigh     = finding(checks.Dependencies, "CVE-2024-0001", checks.SeverityHigh, "go.sum")
	depCritical = fixed(finding(checks.Dependencies, "CVE-2024-0002", checks.SeverityCritical, "go.sum"), "1.2.3")
	depLow      = finding(checks.Dependencies, "CVE-2024-0003", checks.SeverityLow, "go.sum")
	secret      = finding(checks.Secrets, "aws-access-token", checks.SeverityUnknown, "config/prod.env")
	iacMedium   = finding(checks.IaC, "AVD-AWS-0086", checks.SeverityMedium, "infra/s3.tf")
	iacHigh     = finding(checks.IaC, "AVD-AWS-0089", checks.SeverityHigh, "infra/s3.tf")
)

// TestEvaluateConclusions covers every conclusion and title.
func TestEvaluateConclusions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   string
		result   *checks.Result
		base     Base
		err      error
		want     checks.Conclusion
		title    string
		blocking int
	}{
		{"nothing found", "", result(checks.Secrets), nil, nil,
			checks.ConclusionSuccess, "No secrets found", 0},
		{"nothing found, some suppressed", "", &checks.Result{Check: checks.Dependencies,
			Suppressed: []checks.Suppressed{{Finding: depHigh, Reason: ".trivyignore"}}}, nil, nil,
			checks.ConclusionSuccess, "No vulnerabilities found (1 suppressed)", 0},
		{"a new secret blocks", "", result(checks.Secrets, secret), nil, nil,
			checks.ConclusionFailure, "1 new secret blocks this change", 1},
		{"new high blocks", "", result(checks.Dependencies, depHigh, depLow), Base{}, nil,
			checks.ConclusionFailure, "1 new high vulnerability blocks this change (1 more not blocking)", 1},
		{"mixed severities", "", result(checks.Dependencies, depHigh, depCritical), nil, nil,
			checks.ConclusionFailure, "2 new vulnerabilities block this change: 1 critical, 1 high", 2},
		{"two new high", "", result(checks.IaC, iacHigh, finding(checks.IaC, "AVD-AWS-0090", checks.SeverityHigh, "infra/s3.tf")), nil, nil,
			checks.ConclusionFailure, "2 new high misconfigurations block this change", 2},
		{"existing does not block", "", result(checks.Dependencies, depHigh), BaseOf(result(checks.Dependencies, depHigh)), nil,
			checks.ConclusionNeutral, "1 existing high vulnerability (not blocking)", 0},
		{"existing blocks without new_findings_only", "new_findings_only: false\n", result(checks.Dependencies, depHigh),
			BaseOf(result(checks.Dependencies, depHigh)), nil,
			checks.ConclusionFailure, "1 existing high vulnerability blocks this change", 1},
		{"below min_severity", "", result(checks.IaC, iacMedium), nil, nil,
			checks.ConclusionNeutral, "1 new medium misconfiguration (not blocking)", 0},
		{"lowered min_severity blocks", "checks: {iac: {min_severity: medium}}\n", result(checks.IaC, iacMedium), nil, nil,
			checks.ConclusionFailure, "1 new medium misconfiguration blocks this change", 1},
		{"only_fixed lets unfixed through", "checks: {dependencies: {only_fixed: true}}\n", result(checks.Dependencies, depHigh, depCritical), nil, nil,
			checks.ConclusionFailure, "1 new critical vulnerability blocks this change (1 more not blocking)", 1},
		{"warn mode", "checks: {secrets: {mode: warn}}\n", result(checks.Secrets, secret), nil, nil,
			checks.ConclusionNeutral, "1 new secret (not blocking: mode warn)", 0},
		{"off", "checks: {iac: {mode: off}}\n", result(checks.IaC, iacHigh), nil, errors.New("boom"),
			checks.ConclusionSkipped, "Check turned off by policy", 0},
		{"custom check", "", result(Custom, finding(Custom, "USER-1", checks.SeverityCritical, "k8s/pod.yaml")), nil, nil,
			checks.ConclusionFailure, "1 new critical finding blocks this change", 1},
		{"a limit hit fails", "", limited(checks.Secrets, checks.Skip{Path: "big.bin", Reason: "too large", Limit: true}), nil, nil,
			checks.ConclusionFailure, "1 file not scanned: a limit was hit", 0},
		{"a limit hit with findings below the bar fails", "", limited(checks.IaC,
			checks.Skip{Path: "a.yaml", Reason: "too deep", Limit: true}, checks.Skip{Path: "b.yaml", Reason: "too deep", Limit: true}),
			nil, nil, checks.ConclusionFailure, "2 files not scanned: a limit was hit; 1 new medium misconfiguration not blocking", 0},
		{"a limit hit, on_limit neutral", "on_limit: neutral\n", limited(checks.Secrets, checks.Skip{Path: "big.bin", Reason: "too large", Limit: true}), nil, nil,
			checks.ConclusionNeutral, "1 file not scanned: a limit was hit (not blocking: on_limit neutral)", 0},
		{"a limit hit in warn mode", "checks: {secrets: {mode: warn}}\n", limited(checks.Secrets, checks.Skip{Path: "big.bin", Reason: "too large", Limit: true}), nil, nil,
			checks.ConclusionNeutral, "1 file not scanned: a limit was hit (not blocking: mode warn)", 0},
		{"a limit hit in an ignored path passes", "checks: {secrets: {paths: {ignore: [\"assets/**\"]}}}\n",
			limited(checks.Secrets, checks.Skip{Path: "assets/big.bin", Reason: "too large", Limit: true}), nil, nil,
			checks.ConclusionSuccess, "No secrets found", 0},
		{"a symlink skipped is not a limit hit", "", limited(checks.Secrets, checks.Skip{Path: "link", Reason: "symlink, not followed"}), nil, nil,
			checks.ConclusionSuccess, "No secrets found", 0},
		{"blocking findings and a limit hit", "", func() *checks.Result {
			r := result(checks.Secrets, secret)
			r.Scope.Skipped = []checks.Skip{{Path: "big.bin", Reason: "too large", Limit: true}}
			return r
		}(), nil, nil, checks.ConclusionFailure, "1 new secret blocks this change", 1},
		{"scan error fails", "", nil, nil, errors.New("trivy: parse go.sum: unexpected EOF"),
			checks.ConclusionFailure, "Scan could not complete", 0},
		{"scan error neutral", "on_error: neutral\n", nil, nil, errors.New("timeout"),
			checks.ConclusionNeutral, "Scan could not complete (not blocking: on_error neutral)", 0},
		{"scan error in warn mode", "checks: {dependencies: {mode: warn}}\n", nil, nil, errors.New("timeout"),
			checks.ConclusionNeutral, "Scan could not complete (not blocking: mode warn)", 0},
		{"partial result blocks despite on_error neutral", "on_error: neutral\n", result(checks.Dependencies, depCritical), nil, errors.New("timeout"),
			checks.ConclusionFailure, "1 new critical vulnerability blocks this change; the scan did not complete", 1},
		{"partial result without blocking fails on error", "", result(checks.Dependencies, depLow), nil, errors.New("timeout"),
			checks.ConclusionFailure, "Scan could not complete", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := checks.Dependencies
			if tc.result != nil {
				check = tc.result.Check
			}
			in := Input{Policy: policyOf(t, tc.policy), Base: tc.base, Now: now}
			if tc.result != nil {
				in.Results = []*checks.Result{tc.result}
			}
			if tc.err != nil {
				in.Errors = map[string]error{check: tc.err}
			}
			vs := Evaluate(in)
			if len(vs) != 1 {
				t.Fatalf("got %d verdicts, want 1", len(vs))
			}
			v := vs[0]
			if v.Check != check || v.Conclusion != tc.want || v.Title != tc.title || v.Blocking() != tc.blocking {
				t.Errorf("verdict %s %s %q blocking %d\nwant      %s %s %q blocking %d",
					v.Check, v.Conclusion, v.Title, v.Blocking(), check, tc.want, tc.title, tc.blocking)
			}
			if (tc.err != nil && tc.want != checks.ConclusionSkipped) != (v.Error != "") {
				t.Errorf("Error = %q with scan error %v", v.Error, tc.err)
			}
		})
	}
}

func TestEvaluateReasons(t *testing.T) {
	p := policyOf(t, "checks: {dependencies: {only_fixed: true, min_severity: medium}}\n")
	base := BaseOf(result(checks.Dependencies, depLow))
	v := Evaluate(Input{Policy: p, Base: base, Now: now, Results: []*checks.Result{result(checks.Dependencies, depLow, depCritical, depHigh)}})[0]
	got := map[string]string{}
	for _, f := range v.Findings {
		got[f.RuleID] = string(f.Status) + ": " + f.Reason
	}
	want := map[string]string{
		"CVE-2024-0002": "new: new; critical ≥ min_severity medium; fixed in 1.2.3",
		"CVE-2024-0001": "new: no fixed version (only_fixed)",
		"CVE-2024-0003": "existing: low below min_severity medium; no fixed version (only_fixed); existing on base",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	// Blocking first, then the worst.
	if order := []string{v.Findings[0].RuleID, v.Findings[1].RuleID, v.Findings[2].RuleID}; !slices.Equal(order, []string{"CVE-2024-0002", "CVE-2024-0001", "CVE-2024-0003"}) {
		t.Errorf("order %q", order)
	}
	if v.Mode != "block" {
		t.Errorf("Mode = %q", v.Mode)
	}
}

func TestEvaluateSuppression(t *testing.T) {
	p := policyOf(t, `checks:
  dependencies:
    paths: {ignore: ["vendor/**"]}
exceptions:
  - id: CVE-2024-0001
    paths: ["legacy/**"]
    reason: not reachable
    owner: "@team-sec"
    expires: 2026-12-31
  - id: `+iacHigh.Fingerprint+`
    reason: tracked in SEC-9
`)
	vendored := finding(checks.Dependencies, "CVE-2024-0009", checks.SeverityCritical, "vendor/x/go.sum")
	legacy := finding(checks.Dependencies, "CVE-2024-0001", checks.SeverityHigh, "legacy/go.sum")
	fromIgnore := checks.Suppressed{Finding: depLow, Reason: ".trivyignore"}
	vs := Evaluate(Input{Policy: p, Now: now, Results: []*checks.Result{
		{Check: checks.Dependencies, Findings: []checks.Finding{vendored, legacy, depHigh}, Suppressed: []checks.Suppressed{fromIgnore}},
		result(checks.IaC, iacHigh),
	}})
	if len(vs) != 2 {
		t.Fatalf("%d verdicts", len(vs))
	}
	deps, iac := vs[0], vs[1]
	wantDeps := []string{
		".trivyignore",
		`path ignored by checks.dependencies.paths.ignore "vendor/**" (repo acme/app:.github/gatehouse.yml:4)`,
		"exception CVE-2024-0001 (repo acme/app:.github/gatehouse.yml:6): not reachable; owner @team-sec; expires 2026-12-31",
	}
	var reasons []string
	for _, s := range deps.Suppressed {
		reasons = append(reasons, s.Reason)
	}
	if !slices.Equal(reasons, wantDeps) {
		t.Errorf("suppressed reasons\n got %q\nwant %q", reasons, wantDeps)
	}
	// The exception's paths do not cover go.sum at the root: it still blocks.
	if deps.Blocking() != 1 || deps.Findings[0].File != "go.sum" || deps.Conclusion != checks.ConclusionFailure {
		t.Errorf("deps verdict %+v", deps)
	}
	if iac.Conclusion != checks.ConclusionSuccess || len(iac.Suppressed) != 1 ||
		iac.Suppressed[0].Reason != "exception "+iacHigh.Fingerprint+" (repo acme/app:.github/gatehouse.yml:11): tracked in SEC-9" {
		t.Errorf("iac verdict %+v", iac)
	}
}

// TestExpiry checks the boundary: the exception applies through the whole
// of its expires day (UTC) and not a moment later.
func TestExpiry(t *testing.T) {
	p := policyOf(t, "exceptions:\n  - id: aws-access-token\n    reason: rotated\n    expires: 2026-01-31\n")
	est := time.FixedZone("EST", -5*3600)
	for _, tc := range []struct {
		name    string
		now     time.Time
		applies bool
	}{
		{"day before", time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC), true},
		{"start of the day", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), true},
		{"last second of the day", time.Date(2026, 1, 31, 23, 59, 59, 999999999, time.UTC), true},
		{"next day", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), false},
		{"evening of the day west of UTC is the next day in UTC", time.Date(2026, 1, 31, 20, 0, 0, 0, est), false},
		{"a year later", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), false},
		{"no clock", time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(Input{Policy: p, Now: tc.now, Results: []*checks.Result{result(checks.Secrets, secret)}})[0]
			if tc.applies {
				if v.Conclusion != checks.ConclusionSuccess || len(v.Suppressed) != 1 || len(v.Notes) != 0 {
					t.Errorf("exception did not apply: %+v", v)
				}
				return
			}
			note := "exception aws-access-token (repo acme/app:.github/gatehouse.yml:3) expired on 2026-01-31 and no longer applies"
			if v.Conclusion != checks.ConclusionFailure || len(v.Suppressed) != 0 {
				t.Fatalf("expired exception applied: %+v", v)
			}
			if !slices.Equal(v.Notes, []string{note}) {
				t.Errorf("Notes = %q", v.Notes)
			}
			if want := "new; every secret blocks; " + note; v.Findings[0].Reason != want {
				t.Errorf("Reason = %q, want %q", v.Findings[0].Reason, want)
			}
		})
	}
}

func TestExpiredThenValidException(t *testing.T) {
	p := policyOf(t, "exceptions:\n  - {id: aws-access-token, reason: old, expires: 2020-01-01}\n  - {id: aws-access-token, reason: renewed, expires: 2030-01-01}\n")
	v := Evaluate(Input{Policy: p, Now: now, Results: []*checks.Result{result(checks.Secrets, secret)}})[0]
	if v.Conclusion != checks.ConclusionSuccess || len(v.Notes) != 0 || !strings.Contains(v.Suppressed[0].Reason, "renewed") {
		t.Errorf("verdict %+v", v)
	}
}

func TestEvaluateOrderAndUnknown(t *testing.T) {
	vs := Evaluate(Input{Now: now, // nil Policy: defaults
		Results: []*checks.Result{result(checks.IaC), result("licenses"), result(checks.Secrets)},
		Errors:  map[string]error{checks.Dependencies: errors.New("no DB")},
	})
	var names []string
	for _, v := range vs {
		names = append(names, v.Check)
	}
	if !slices.Equal(names, []string{"secrets", "dependencies", "iac", "licenses"}) {
		t.Errorf("order %q", names)
	}
	if u := vs[3]; u.Conclusion != checks.ConclusionFailure || u.Error == "" {
		t.Errorf("unknown check did not fail closed: %+v", u)
	}
}

func TestEvaluateNotesPerCheck(t *testing.T) {
	org := mustParse(t, orgName, "version: 1\nenforce: [checks.secrets.mode, on_error]\n")
	repo := mustParse(t, repoName, "version: 1\nchecks: {secrets: {mode: off}}\non_error: neutral\n")
	p := mustResolve(t, Layer{SourceOrg, org}, Layer{SourceRepo, repo})
	vs := Evaluate(Input{Policy: p, Now: now, Results: []*checks.Result{result(checks.Secrets), result(checks.IaC)}})
	if len(vs[0].Notes) != 2 || len(vs[1].Notes) != 1 || !strings.Contains(vs[1].Notes[0], "on_error") {
		t.Errorf("secrets notes %q, iac notes %q", vs[0].Notes, vs[1].Notes)
	}
	if vs[0].Conclusion != checks.ConclusionSuccess {
		t.Errorf("secrets turned off despite enforce: %+v", vs[0])
	}
}

func TestBase(t *testing.T) {
	b := BaseOf(&checks.Result{Check: checks.Secrets, Findings: []checks.Finding{secret, {}},
		Suppressed: []checks.Suppressed{{Finding: depHigh}}}, nil)
	if !b.Has(checks.Secrets, secret.Fingerprint) || !b.Has(checks.Secrets, depHigh.Fingerprint) {
		t.Error("BaseOf lost a fingerprint")
	}
	if b.Has(checks.Secrets, "") || b.Has(checks.IaC, secret.Fingerprint) {
		t.Error("empty fingerprint or another check matched")
	}
	// A finding without fingerprint is always new, so it can block.
	v := Evaluate(Input{Now: now, Base: b, Results: []*checks.Result{result(checks.Secrets, checks.Finding{RuleID: "x", File: "a"})}})[0]
	if v.Findings[0].Status != checks.StatusNew || v.Conclusion != checks.ConclusionFailure {
		t.Errorf("fingerprint-less finding: %+v", v)
	}
}

func TestEvaluateMergesResultsOfOneCheck(t *testing.T) {
	vs := Evaluate(Input{Now: now, Results: []*checks.Result{
		result(checks.IaC, iacHigh), nil,
		{Check: checks.IaC, Findings: []checks.Finding{iacMedium}, Suppressed: []checks.Suppressed{{Finding: iacMedium, Reason: "#trivy:ignore"}}},
	}})
	if len(vs) != 1 || len(vs[0].Findings) != 2 || len(vs[0].Suppressed) != 1 {
		t.Errorf("verdicts %+v", vs)
	}
}

// A suppression the change brings for its own finding applies by
// suppressions.from_change: at once (allow), once approved (approval, the
// default), or not before merge (deny). Until it applies, the finding is
// judged as if unsuppressed and says which suppression is held back; an
// org can lock the setting.
func TestEvaluateSuppressionFromChange(t *testing.T) {
	fromChange := func(f checks.Finding) *checks.Result {
		r := result(f.Check)
		r.Suppressed = []checks.Suppressed{{Finding: f, Reason: ".gitleaksignore, as this change edits it", Via: checks.ViaIgnoreFile, FromChange: true}}
		return r
	}
	inForce := result(secret.Check)
	inForce.Suppressed = []checks.Suppressed{{Finding: secret, Reason: ".gitleaksignore", Via: checks.ViaIgnoreFile}}
	for _, tc := range []struct {
		name, policy, approvedBy string
		res                      *checks.Result
		want                     checks.Conclusion
		pending                  int
		reason                   string // in the finding's reason, or the suppression's
	}{
		{name: "in force applies", res: inForce, want: checks.ConclusionSuccess, reason: ".gitleaksignore"},
		{name: "approval by default: held", res: fromChange(secret), want: checks.ConclusionFailure, pending: 1, reason: "waits for approval"},
		{name: "approval given", res: fromChange(secret), approvedBy: "lead", want: checks.ConclusionSuccess, reason: "approved by @lead"},
		{name: "allow", policy: "suppressions:\n  from_change: allow\n", res: fromChange(secret), want: checks.ConclusionSuccess, reason: "from_change: allow"},
		{name: "deny ignores approvals", policy: "suppressions:\n  from_change: deny\n", approvedBy: "lead", res: fromChange(secret), want: checks.ConclusionFailure, reason: "from_change: deny"},
		{name: "held, below the bar: reported, not blocking", res: fromChange(iacMedium), want: checks.ConclusionNeutral, pending: 1, reason: "waits for approval"},
		{name: "a policy exception still applies", policy: "exceptions:\n  - id: aws-access-token\n    reason: test key\n", res: fromChange(secret), want: checks.ConclusionSuccess, reason: "test key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(Input{Policy: policyOf(t, tc.policy), Results: []*checks.Result{tc.res}, Base: Base{}, Now: now, ApprovedBy: tc.approvedBy})[0]
			if v.Conclusion != tc.want || len(v.Pending) != tc.pending {
				t.Fatalf("%s %q pending %d; want %s pending %d", v.Conclusion, v.Title, len(v.Pending), tc.want, tc.pending)
			}
			var reasons []string
			for _, f := range v.Findings {
				reasons = append(reasons, f.Reason)
				if f.Unapplied == "" {
					t.Errorf("held finding does not name its suppression: %+v", f)
				}
			}
			for _, s := range v.Suppressed {
				reasons = append(reasons, s.Reason)
			}
			if !strings.Contains(strings.Join(reasons, "\n"), tc.reason) {
				t.Errorf("reasons %q do not say %q", reasons, tc.reason)
			}
		})
	}
	// The org can lock it: a repo cannot loosen an enforced approval.
	org := mustParse(t, orgName, "version: 1\nsuppressions:\n  from_change: approval\nenforce: [suppressions]\n")
	repo := mustParse(t, repoName, "version: 1\nsuppressions:\n  from_change: allow\n  approvers: [alice]\n")
	p := mustResolve(t, Layer{SourceOrg, org}, Layer{SourceRepo, repo})
	if got := p.Suppressions(); got.FromChange != FromChangeApproval || !slices.Equal(got.Approvers, []string{"alice"}) {
		t.Errorf("repo loosened an enforced setting, or could not narrow the approvers: %+v", got)
	}
	org = mustParse(t, orgName, "version: 1\nsuppressions:\n  approvers: [alice, octo/security]\nenforce: [suppressions.approvers]\n")
	for repoList, want := range map[string][]string{"[]": {"alice", "octo/security"}, "[bob]": {"alice", "octo/security"}, "[octo/security]": {"octo/security"}} {
		repo := mustParse(t, repoName, "version: 1\nsuppressions:\n  approvers: "+repoList+"\n")
		if got := mustResolve(t, Layer{SourceOrg, org}, Layer{SourceRepo, repo}).Suppressions().Approvers; !slices.Equal(got, want) {
			t.Errorf("org approvers enforced, repo %s: %v, want %v", repoList, got, want)
		}
	}
	if _, err := Parse(repoName, []byte("version: 1\nsuppressions:\n  approvers: [\"not a login!\"]\n")); err == nil {
		t.Error("an approver that is no login or org/team parsed")
	}
}
