package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

func detailsFixture() DetailsData {
	secret := checks.Evaluated{Finding: checks.Finding{
		Check: checks.Secrets, RuleID: "aws-access-token", Severity: checks.SeverityHigh, Title: "AWS access token",
		File: "config.env", StartLine: 2, Commit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", Match: "AKIA************MPLE",
		Remediation: checks.Remediation{URL: "https://docs.github.com/en/authentication"},
	}, Status: checks.StatusNew, Blocking: true, Reason: "new; every secret blocks"}
	lodash := checks.Evaluated{Finding: checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2021-23337", Severity: checks.SeverityHigh, Title: "nodejs-lodash: command injection via template",
		File: "package-lock.json", Remediation: checks.Remediation{URL: "https://avd.aquasec.com/nvd/cve-2021-23337", Package: "lodash", InstalledVersion: "4.17.20", FixedVersion: "4.17.21"},
	}, Status: checks.StatusExisting, Reason: "existing on base"}
	low := checks.Evaluated{Finding: checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2024-0001", Severity: checks.SeverityLow, Title: "minor", File: "go.sum",
		Remediation: checks.Remediation{Package: "x", InstalledVersion: "1.0"},
	}, Status: checks.StatusNew, Reason: "low < min_severity high"}
	return DetailsData{
		ID: "0123456789abcdef0123456789abcdef", Repository: "acme/widgets", Kind: "pull_request", PRNumber: 7,
		DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Trigger: "rerun by @alice",
		HeadSHA: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", BaseSHA: "4b2e8c1d9a7f60e5d3c2b1a0f9e8d7c6b5a49382",
		Decision: "failure", RecordedAt: time.Date(2026, 11, 2, 14, 4, 35, 0, time.UTC), Version: "v0.9.0",
		PolicySHA256: "ed42f29cddffe2d9b762740f5aedecc994ac74f6ae60812a9f655cc8f86663d3", PolicySources: []string{"default (built-in)", "org (acme/.github:.github/gatehouse.yml)"},
		PolicyContent: `{"version":1,"settings":[{"key":"checks.secrets.mode","value":"block"}]}`,
		DBUpdatedAt:   time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC),
		Checks: []DetailsCheck{
			{Name: "secrets", Mode: "block", Conclusion: "failure", Title: "1 new secret blocks this change",
				Engine: &checks.Engine{Name: "gitleaks", Version: "v8.30.1"}, Scope: &checks.Scope{Commits: 2, Files: 3, Bytes: 2048},
				Findings:   []checks.Evaluated{secret},
				Exceptions: []checks.Suppressed{{Reason: "gitleaks:allow comment on the line", Finding: checks.Finding{RuleID: "generic-api-key", File: "test/fixture.go", StartLine: 7}}}},
			{Name: "dependencies", Mode: "block", Conclusion: "neutral", Title: "2 findings, none blocking",
				Engine:   &checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "db 2026-11-01"},
				Scope:    &checks.Scope{Files: 1, Bytes: 512, Inputs: []string{"package-lock.json"}, Skipped: []checks.Skip{{Path: "huge/yarn.lock", Reason: "larger than 10 MB"}}},
				Findings: []checks.Evaluated{low, lodash}, Notes: []string{"only_fixed is off"}},
			{Name: "iac", Mode: "warn", Conclusion: "skipped", Title: "IaC scan failed", Error: "trivy: parse infra/main.tf: unexpected token"},
		},
		SBOM:            &DetailsSBOM{URL: "/v/0123456789abcdef0123456789abcdef/sbom.cdx.json", SpecVersion: "1.6", Components: 2, SHA256: "ad75f8f8a182d1eb58ab84a565fa3195ceada4ecf6b5541bccf60d639590b608"},
		AttestationsURL: "/v/0123456789abcdef0123456789abcdef/attestations.intoto.jsonl", SigningKeyID: "5a0e3a1dbd4cbe6d7c4e6f1d1d2c5f9e3e0b8a7f6c5d4e3f2a1b0c9d8e7f6a5b",
		Seq: 2, Hash: "b1c7809d4d5df72da22a56aeb6aedd819d99b5a1562c2535b6162de6442492e0", PrevHash: "33f759401578c8d03bcf3e21cbcf3d67ccb50326784785e6654c8cd3754d5296",
		Duration: 83 * time.Second,
	}
}

func TestDetailsGolden(t *testing.T) {
	bare := DetailsData{
		ID: "fedcba9876543210fedcba9876543210", Repository: "acme/widgets", Kind: "baseline", DeliveryID: "d-1",
		HeadSHA: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", Decision: "failure",
		Checks: []DetailsCheck{{Name: "secrets", Mode: "block", Conclusion: "failure", Title: "Policy file is invalid", Error: "acme/.github:.github/gatehouse.yml:3: unknown key"}},
		Seq:    1, Hash: "33f759401578c8d03bcf3e21cbcf3d67ccb50326784785e6654c8cd3754d5296",
	}
	deployment := detailsFixture()
	deployment.Kind, deployment.PRNumber, deployment.Trigger = "deployment", 0, "deployment to production (workflow run 1234567890)"
	deployment.Deployment = &DetailsDeployment{Environment: "production", State: "rejected", WorkflowRun: 1234567890, Overlay: true, FromKind: "push"}
	for name, d := range map[string]DetailsData{"details_pull_request.html": detailsFixture(), "details_policy_error.html": bare, "details_deployment.html": deployment} {
		t.Run(name, func(t *testing.T) {
			b, err := Details(d)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, string(b))
		})
	}
}

func TestDetailsEscapesRepositoryContent(t *testing.T) {
	d := detailsFixture()
	f := &d.Checks[0].Findings[0]
	f.Title = `<script>alert("title")</script>`
	f.File = `"><img src=x onerror=alert(1)>`
	f.Remediation.URL = "javascript:alert(1)"
	d.Checks[0].Exceptions[0].Reason = "</td><script>alert(2)</script>"
	b, err := Details(d)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"<script>", "<img", `href="javascript:`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;", `href="#ZgotmplZ"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
	// The caller's findings keep their order: Details sorts a copy.
	before := d.Checks[1].Findings[0].RuleID
	if _, err := Details(d); err != nil || d.Checks[1].Findings[0].RuleID != before {
		t.Errorf("Details reordered the caller's findings")
	}
}
