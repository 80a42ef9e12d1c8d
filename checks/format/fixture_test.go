package format

import (
	"io"

	"github.com/gatehouse/gatehouse/checks"
)

// Revisions of the scanned range in the fixtures.
const (
	baseRev = "4b2e8c1d9a7f60e5d3c2b1a0f9e8d7c6b5a49382"
	headRev = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
)

// fullReport is a pull-request scan where every check found something:
// a secret in a commit the range adds (plus one suppressed by
// gitleaks:allow), vulnerable dependencies (new and blocking, existing, no
// fixed version) with a lockfile skipped for size, and IaC
// misconfigurations (new and blocking, existing, one excepted by policy).
// Findings are listed out of order on purpose: formatters sort them.
func fullReport() *Report {
	secret := checks.Finding{
		Check: checks.Secrets, RuleID: "aws-access-token", Severity: checks.SeverityHigh,
		Title:   "AWS access token",
		Message: "Identified a pattern that may indicate AWS credentials, risking unauthorized cloud resource access and data breaches on AWS platforms.",
		File:    "deploy/prod.env", StartLine: 4, EndLine: 4, Commit: headRev,
		Match:       "AKIA************MPLE",
		Fingerprint: checks.Fingerprint(checks.Secrets, "aws-access-token", "deploy/prod.env", "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"),
		Remediation: checks.Remediation{Text: "Revoke and rotate the key, then remove it from history"},
	}
	allowed := checks.Suppressed{Reason: "gitleaks:allow comment on the line", Finding: checks.Finding{
		Check: checks.Secrets, RuleID: "generic-api-key", Severity: checks.SeverityMedium,
		Title: "Generic API Key", File: "internal/billing/client_test.go", StartLine: 12, EndLine: 12,
		Commit: headRev, Match: "sk_t************3f9a",
		Fingerprint: checks.Fingerprint(checks.Secrets, "generic-api-key", "internal/billing/client_test.go", "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
	}}

	crypto := checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2024-45337", Severity: checks.SeverityCritical,
		Title: "golang.org/x/crypto/ssh: Misuse of ServerConfig.PublicKeyCallback may cause authorization bypass",
		File:  "go.mod", StartLine: 12, EndLine: 12,
		Fingerprint: checks.Fingerprint(checks.Dependencies, "CVE-2024-45337", "go.mod", "golang.org/x/crypto@v0.30.0"),
		Remediation: checks.Remediation{
			URL:     "https://avd.aquasec.com/nvd/cve-2024-45337",
			Package: "golang.org/x/crypto", InstalledVersion: "v0.30.0", FixedVersion: "0.31.0",
		},
	}
	lodash := checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2021-23337", Severity: checks.SeverityHigh,
		Title:       "nodejs-lodash: command injection via template",
		File:        "web/package-lock.json",
		Fingerprint: checks.Fingerprint(checks.Dependencies, "CVE-2021-23337", "web/package-lock.json", "lodash@4.17.20"),
		Remediation: checks.Remediation{
			URL:     "https://avd.aquasec.com/nvd/cve-2021-23337",
			Package: "lodash", InstalledVersion: "4.17.20", FixedVersion: "4.17.21",
		},
	}
	ip := checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2024-29415", Severity: checks.SeverityHigh,
		Title:       "node-ip: Incomplete fix for CVE-2023-42282",
		File:        "web/package-lock.json",
		Fingerprint: checks.Fingerprint(checks.Dependencies, "CVE-2024-29415", "web/package-lock.json", "ip@2.0.1"),
		Remediation: checks.Remediation{
			URL:     "https://avd.aquasec.com/nvd/cve-2024-29415",
			Package: "ip", InstalledVersion: "2.0.1",
		},
	}

	acl := checks.Finding{
		Check: checks.IaC, RuleID: "AWS-0086", Severity: checks.SeverityHigh,
		Title:   "S3 Access block should block public ACL",
		Message: "No public access block so not blocking public acls",
		File:    "infra/storage.tf", StartLine: 14, EndLine: 20,
		Fingerprint: checks.Fingerprint(checks.IaC, "AWS-0086", "infra/storage.tf", `resource "aws_s3_bucket" "assets" {`),
		Remediation: checks.Remediation{
			Text: "Enable blocking any PUT calls with a public ACL specified",
			URL:  "https://avd.aquasec.com/misconfig/aws-0086",
		},
	}
	root := checks.Finding{
		Check: checks.IaC, RuleID: "DS-0002", Severity: checks.SeverityHigh,
		Title:       "Image user should not be 'root'",
		Message:     "Specify at least 1 USER command in Dockerfile with non-root user as argument",
		File:        "Dockerfile",
		Fingerprint: checks.Fingerprint(checks.IaC, "DS-0002", "Dockerfile", "FROM golang:1.26"),
		Remediation: checks.Remediation{
			Text: "Add 'USER <non root user name>' line to the Dockerfile",
			URL:  "https://avd.aquasec.com/misconfig/ds-0002",
		},
	}
	logging := checks.Suppressed{
		Reason: "policy exception AWS-0089 for infra/ (owner @acme/platform, expires 2026-12-31): access logs go to the central account",
		Finding: checks.Finding{
			Check: checks.IaC, RuleID: "AWS-0089", Severity: checks.SeverityLow,
			Title: "S3 Bucket Logging", File: "infra/storage.tf", StartLine: 14, EndLine: 20,
			Fingerprint: checks.Fingerprint(checks.IaC, "AWS-0089", "infra/storage.tf", `resource "aws_s3_bucket" "assets" {`),
		},
	}

	return &Report{
		Target: "./shop-api", Base: baseRev, Head: headRev, ToolVersion: "v0.1.0",
		PolicyHash:    "sha256:3f1c9be07a5d42e8b1f06c7d9e2a4b5c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
		PolicySources: []string{"acme/.github:.github/gatehouse.yml", "acme/shop-api:.github/gatehouse.yml"},
		Results: []*checks.Result{
			{
				Check:    checks.IaC,
				Engine:   checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "trivy-checks v1.12.2"},
				Findings: []checks.Finding{acl, root},
				Scope: checks.Scope{Files: 4, Bytes: 6120,
					Inputs: []string{"Dockerfile", "infra/storage.tf", "infra/variables.tf", "k8s/deployment.yaml"}},
			},
			{
				Check:      checks.Secrets,
				Engine:     checks.Engine{Name: "gitleaks", Version: "v8.30.1", DataVersion: "default rules v8.30.1"},
				Findings:   []checks.Finding{secret},
				Suppressed: []checks.Suppressed{allowed},
				Scope:      checks.Scope{Commits: 3, Files: 7, Bytes: 18734},
			},
			{
				Check:    checks.Dependencies,
				Engine:   checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "db 2026-06-29T10:21:00Z"},
				Findings: []checks.Finding{lodash, ip, crypto},
				Scope: checks.Scope{Files: 2, Bytes: 95210,
					Inputs:  []string{"go.mod", "web/package-lock.json"},
					Skipped: []checks.Skip{{Path: "vendor/legacy/package-lock.json", Reason: "larger than 20 MiB"}}},
				SBOM: []byte(`{"bomFormat":"CycloneDX"}`),
			},
		},
		Verdicts: []checks.Verdict{
			{
				Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title:      "1 new secret blocks this change",
				Findings:   []checks.Evaluated{{Finding: secret, Status: checks.StatusNew, Blocking: true, Reason: "secrets always block"}},
				Suppressed: []checks.Suppressed{allowed}, // also in the result: shown once
			},
			{
				Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title: "1 new critical vulnerability blocks this change",
				Findings: []checks.Evaluated{
					{Finding: ip, Status: checks.StatusNew, Reason: "no fixed version (only_fixed)"},
					{Finding: lodash, Status: checks.StatusExisting, Reason: "existing on base"},
					{Finding: crypto, Status: checks.StatusNew, Blocking: true, Reason: "critical ≥ min_severity high"},
				},
			},
			{
				Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title: "1 new high misconfiguration blocks this change",
				Findings: []checks.Evaluated{
					{Finding: root, Status: checks.StatusExisting, Reason: "existing on base"},
					{Finding: acl, Status: checks.StatusNew, Blocking: true, Reason: "high ≥ min_severity high"},
				},
				Suppressed: []checks.Suppressed{logging},
				Notes:      []string{"exception AWS-0089 expires in 180 days"},
			},
		},
	}
}

// degradedReport is a plain directory scan where nothing blocks but the
// gate still fails: the dependencies scan could not run, secrets found
// nothing, and the IaC check had nothing to look at.
func degradedReport() *Report {
	return &Report{
		Target:        "/src/tools",
		PolicyHash:    "sha256:9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
		PolicySources: []string{"built-in defaults"},
		Results: []*checks.Result{
			{
				Check:  checks.Secrets,
				Engine: checks.Engine{Name: "gitleaks", Version: "v8.30.1", DataVersion: "default rules v8.30.1"},
				Scope:  checks.Scope{Files: 12, Bytes: 40960},
			},
			{
				Check:  checks.IaC,
				Engine: checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "trivy-checks v1.12.2"},
				Scope: checks.Scope{Notes: []string{
					"no IaC files found (Terraform, CloudFormation, Kubernetes, Helm, Dockerfile)"}},
			},
		},
		Verdicts: []checks.Verdict{
			{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No secrets found"},
			{
				Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title: "The dependency scan failed",
				Error: "trivy: vulnerability database not found in /var/lib/gatehouse/trivy-db (run gatehouse db update or gatehouse db import)",
				Notes: []string{"on_error: fail"},
			},
			{Check: checks.IaC, Mode: "warn", Conclusion: checks.ConclusionSuccess, Title: "No IaC files to check"},
		},
	}
}

// emptyReport is a scan where no check ran.
func emptyReport() *Report {
	return &Report{Target: "."}
}

// fixtures are the reports the golden files are made from.
var fixtures = []struct {
	name   string
	report func() *Report
}{
	{"full", fullReport},
	{"degraded", degradedReport},
	{"empty", emptyReport},
}

// formats are the formatters under test with their golden file extension.
var formats = []struct {
	ext    string
	render func(io.Writer, *Report) error
}{
	{"txt", Text},
	{"json", JSON},
	{"sarif", SARIF},
}
