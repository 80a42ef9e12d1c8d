package templates

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	crBase = "9beab9d2f0c7e1a4b5c6d7e8f9a0b1c2d3e4f5a6"
	crHead = "cb2c93fa42ac02eb2b3a6353ba96d587822cd1d9"
)

func secretsVerdict() (checks.Verdict, *checks.Result) {
	f := checks.Finding{
		Check: checks.Secrets, RuleID: "github-pat", Severity: checks.SeverityHigh,
		Title: "GitHub Personal Access Token", File: "config/app.env", StartLine: 2, EndLine: 2,
		Commit: "1b2775f36e3b31c44c21db5476e960fa5eb9a2e3", Match: "GITHUB_TOKEN=ghp_R8mZ…", Fingerprint: "fp1",
		Remediation: checks.Remediation{Text: "Rotate the credential now: it stays in git history even after the line is removed."},
	}
	res := &checks.Result{
		Check: checks.Secrets, Engine: checks.Engine{Name: "gitleaks", Version: "v8.30.1", DataVersion: "e163e53b9e7e"},
		Findings: []checks.Finding{f},
		Scope:    checks.Scope{Commits: 2, Files: 14, Bytes: 38 << 10},
	}
	v := checks.Verdict{
		Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure,
		Title:    "1 new secret blocks this change",
		Findings: []checks.Evaluated{{Finding: f, Status: checks.StatusNew, Blocking: true, Reason: "every secret blocks"}},
	}
	return v, res
}

// The scope lines of a verdict for each kind of range (issue: a verdict
// that states its scope).
func TestCheckRunScopeGolden(t *testing.T) {
	sv, sres := secretsVerdict()
	depsRes := &checks.Result{
		Check: checks.Dependencies, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "v2@2026-11-20T00:00:00Z"},
		Scope: checks.Scope{Files: 2, Bytes: 4096, Inputs: []string{"package-lock.json", "go.mod"}, Notes: []string{"42 packages in 2 lockfiles"}},
	}
	depsV := checks.Verdict{Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No vulnerabilities found"}
	iacRes := &checks.Result{
		Check: checks.IaC, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "v1.12.2"},
		Scope: checks.Scope{Notes: []string{"no infrastructure-as-code files found"}},
	}
	iacV := checks.Verdict{Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No misconfigurations found"}
	ranges := map[string]Range{
		"pull_request": {Kind: "pull_request", Base: crBase, Head: crHead, PRNumber: 7},
		"push":         {Kind: "push", Base: crBase, Head: crHead},
		"new_branch":   {Kind: "push", Head: crHead, NewRef: true},
		"baseline":     {Kind: "baseline", Head: crHead},
		"merge_group":  {Kind: "merge_group", Base: crBase, Head: crHead},
	}
	for name, rng := range ranges {
		for _, c := range []struct {
			v   checks.Verdict
			res *checks.Result
		}{{sv, sres}, {depsV, depsRes}, {iacV, iacRes}} {
			out, err := CheckRun(CheckRunData{
				Verdict: c.v, Result: c.res, Range: rng, PolicyHash: "04ad722df867",
				PolicySource: []string{"default (built-in)", "org (octo/.github:.github/gatehouse.yml)"},
				DBUpdatedAt:  time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Now: now,
			})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, fmt.Sprintf("checkrun_%s_%s.md", name, c.v.Check), "# "+out.Title+"\n\n"+out.Summary+"\n---\n"+out.Text)
		}
	}
}

// A limit hit is said plainly, with the way out.
func TestCheckRunLimitGolden(t *testing.T) {
	hits := []checks.Skip{
		{Path: "assets/model.bin", Reason: "31457280 bytes, over the 10 MB limit", Limit: true},
		{Path: "k8s/laughs.yaml", Reason: "limit: YAML expands to more than 2000000 nodes; not parsed", Limit: true},
	}
	out, err := CheckRun(CheckRunData{
		Verdict: checks.Verdict{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure,
			Title: "2 files not scanned: a limit was hit", LimitHits: hits},
		Result: &checks.Result{Check: checks.Secrets, Engine: checks.Engine{Name: "gitleaks", Version: "v8.30.1"},
			Scope: checks.Scope{Files: 12, Bytes: 40960, Skipped: hits}},
		Range: Range{Kind: "pull_request", Base: crBase, Head: crHead, PRNumber: 7}, PolicyHash: "04ad722df867", Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "checkrun_limit.md", out.Summary)
}

// A scan error is said plainly, never a bare green.
func TestCheckRunErrorGolden(t *testing.T) {
	out, err := CheckRun(CheckRunData{
		Verdict: checks.Verdict{Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure,
			Title: "Scan failed", Error: "vulnerability database missing, run gatehouse db update"},
		Range: Range{Kind: "pull_request", Base: crBase, Head: crHead, PRNumber: 7}, PolicyHash: "04ad722df867", Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "checkrun_error.md", out.Summary)
	if !strings.Contains(out.Summary, "could not complete") {
		t.Error("error not stated")
	}
}

// 70,000 characters of findings: cut to GitHub's limit with a note.
func TestCheckRunTruncates(t *testing.T) {
	v, res := secretsVerdict()
	f := v.Findings[0]
	v.Findings = nil
	for i := range 2000 {
		g := f
		g.File = fmt.Sprintf("very/long/path/to/a/config/file/number/%04d/settings.env", i)
		g.Fingerprint = fmt.Sprint(i)
		v.Findings = append(v.Findings, g)
	}
	out, err := CheckRun(CheckRunData{Verdict: v, Result: res, Range: Range{Kind: "push", Base: crBase, Head: crHead}, Now: now, DetailsURL: "https://gatehouse.example/v/abc"})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"summary": out.Summary, "text": out.Text} {
		if len(s) > MaxCheckRunText {
			t.Errorf("%s is %d characters, over %d", name, len(s), MaxCheckRunText)
		}
		if !strings.Contains(s, "more findings are not shown") {
			t.Errorf("%s does not say findings were left out", name)
		}
	}
	if !strings.Contains(out.Summary, "https://gatehouse.example/v/abc") {
		t.Error("truncated summary does not point at the details page")
	}
}

func BenchmarkCheckRun(b *testing.B) {
	v, res := secretsVerdict()
	f := v.Findings[0]
	v.Findings = nil
	for i := range 200 {
		g := f
		g.StartLine = i + 1
		v.Findings = append(v.Findings, g)
	}
	for b.Loop() {
		if _, err := CheckRun(CheckRunData{Verdict: v, Result: res, Range: Range{Kind: "push", Base: crBase, Head: crHead}, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
}

// Custom checks: the scope line names those that ran, the text lists the
// rejected ones with file, line and problem, and a custom finding says
// which check reported it.
func TestCheckRunCustomChecksGolden(t *testing.T) {
	f := checks.Finding{
		Check: checks.IaC, RuleID: "ORG-K8S-001", Severity: checks.SeverityHigh, Title: "Deployment names its owning team",
		Message: "Deployment 'web' has no team label", File: "k8s/web.yaml", StartLine: 4, EndLine: 6, Fingerprint: "fp-custom",
		Remediation: checks.Remediation{Text: "Add metadata.labels.team with the owning team's name.", URL: "https://wiki.example.com/platform/ownership"},
		Custom:      "octo/.github:.github/gatehouse/checks/team_label.rego",
	}
	res := &checks.Result{
		Check: checks.IaC, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "v1.12.2"},
		Findings: []checks.Finding{f},
		Scope:    checks.Scope{Files: 1, Inputs: []string{"k8s/web.yaml (kubernetes)"}},
		Custom: []checks.CustomStatus{
			{Name: "octo/.github:.github/gatehouse/checks/team_label.rego", Origin: "org", SHA256: "aa", ID: "ORG-K8S-001"},
			{Name: ".github/gatehouse/checks/phone_home.rego", Origin: "repo", SHA256: "bb", Line: 17,
				Rejected: "does not compile: calls http.send, which custom checks may not use (network access)"},
			{Name: ".github/gatehouse/checks/broken.rego", Origin: "repo", SHA256: "cc", Line: 3, Rejected: "does not parse: unexpected } token"},
		},
	}
	v := checks.Verdict{
		Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionFailure,
		Title:    "1 new high misconfiguration blocks this change; 2 custom checks did not run",
		Findings: []checks.Evaluated{{Finding: f, Status: checks.StatusNew, Blocking: true, Reason: "new; high ≥ min_severity high"}},
		Notes:    []string{"2 custom checks did not run: .github/gatehouse/checks/phone_home.rego:17, .github/gatehouse/checks/broken.rego:3 (see Rejected custom checks)."},
	}
	out, err := CheckRun(CheckRunData{Verdict: v, Result: res, Range: Range{Kind: "pull_request", Base: crBase, Head: crHead, PRNumber: 7},
		PolicyHash: "04ad722df867", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "checkrun_iac_custom.md", "# "+out.Title+"\n\n"+out.Summary+"\n---\n"+out.Text)
	for _, want := range []string{"### Rejected custom checks", "`.github/gatehouse/checks/phone_home.rego:17`", "calls http.send", "**Custom check**: `octo/.github:"} {
		if !strings.Contains(out.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

// A suppression the change adds for its own finding waits for approval,
// in the check run, until someone who may approve it does; then the
// suppressed table names the approver.
func TestCheckRunSuppressionFromChangeGolden(t *testing.T) {
	_, res := secretsVerdict()
	res.Suppressed = []checks.Suppressed{{Finding: res.Findings[0], Via: checks.ViaIgnoreFile, FromChange: true,
		Reason: ".gitleaksignore, as this change edits it, lists this finding (gitleaks fingerprint config/app.env:github-pat:2)"}}
	res.Findings = []checks.Finding{}
	for _, tc := range []struct{ name, approvedBy string }{{"pending", ""}, {"approved", "octo-lead"}} {
		vs := policy.Evaluate(policy.Input{Results: []*checks.Result{res}, Base: policy.Base{}, Now: now, ApprovedBy: tc.approvedBy})
		v := vs[0]
		out, err := CheckRun(CheckRunData{
			Verdict: v, Result: res, Range: Range{Kind: "pull_request", Base: crBase, Head: crHead, PRNumber: 7},
			PolicyHash: "04ad722df867", Now: now,
		})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "checkrun_suppression_"+tc.name+".md", "# "+out.Title+"\n\n"+out.Summary)
	}
}
