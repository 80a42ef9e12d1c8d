package format

import (
	"fmt"
	"io"
	"strings"

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

// longReport is a monorepo scan where everything a terminal could choke on
// is long: deep paths (one so deep its .gitleaksignore line is longer than
// a terminal), a custom secret rule's long id, long titles and fixes, one
// IaC rule on many files, a hundred lockfiles, long notes, reasons and
// errors, and a suppression waiting for approval.
func longReport() *Report {
	deep := "services/payments/internal/adapters/outbound/providers/legacy-gateway/config/environments/production"
	var inputs []string
	for i := range 100 {
		inputs = append(inputs, fmt.Sprintf("services/service-%03d/web/frontend/package-lock.json", i))
	}
	secret := checks.Finding{
		Check: checks.Secrets, RuleID: "acme-internal-payment-gateway-merchant-api-key", Severity: checks.SeverityHigh,
		Title: "Payment gateway merchant API key of the ACME internal gateway, valid for all environments",
		File:  deep + "/gateway.env", StartLine: 17, EndLine: 17, Commit: headRev,
		Match:       "mk_live_************************************************9f3a",
		Fingerprint: checks.Fingerprint(checks.Secrets, "acme-internal-payment-gateway-merchant-api-key", deep+"/gateway.env", "sha256:1"),
		Remediation: checks.Remediation{Text: "Revoke the key in the gateway's merchant console, issue a new one, store it in the vault " +
			"(vault kv put secret/payments/gateway key=…) and remove the old one from the history of every branch"},
	}
	short := checks.Finding{
		Check: checks.Secrets, RuleID: "github-pat", Severity: checks.SeverityHigh, Title: "GitHub Personal Access Token",
		File: "config/app.env", StartLine: 2, EndLine: 2, Commit: baseRev, Match: "ghp_************************************",
		Fingerprint: checks.Fingerprint(checks.Secrets, "github-pat", "config/app.env", "sha256:2"),
		Remediation: checks.Remediation{Text: "Revoke and rotate the token, then remove it from history"},
	}
	pending := checks.Suppressed{Finding: short, Via: checks.ViaIgnoreFile, FromChange: true,
		Reason: ".gitleaksignore, as this change edits it, lists this finding (gitleaks fingerprint " + short.GitleaksID() + ")"}

	spring := checks.Finding{
		Check: checks.Dependencies, RuleID: "GHSA-xxxx-yyyy-zzzz-with-a-suffix-nobody-expects", Severity: checks.SeverityCritical,
		Title: "spring-boot-starter-web: remote code execution through data binding to a ClassLoader, the so-called Spring4Shell",
		File:  "services/service-042/backend/very/deeply/nested/module/for/the/payments/platform/pom.xml", StartLine: 120,
		Fingerprint: checks.Fingerprint(checks.Dependencies, "GHSA-x", "pom.xml", "spring"),
		Remediation: checks.Remediation{
			Package:          "org.springframework.boot:spring-boot-starter-web-with-an-unusually-long-artifact-id",
			InstalledVersion: "2.6.5", FixedVersion: "2.5.12, 2.6.6, 2.7.0-RC1, 3.0.0-M1, 3.0.0-M2, 3.0.0-M3, 3.0.0-M4",
		},
	}
	var iac []checks.Evaluated
	var iacFindings []checks.Finding
	for i := range 3 {
		f := checks.Finding{
			Check: checks.IaC, RuleID: "AWS-0086", Severity: checks.SeverityHigh,
			Title: "S3 Access block should block public ACL, because otherwise anyone on the internet may upload objects with public ACLs",
			File:  fmt.Sprintf("%s/terraform/module-%d/storage.tf", deep, i), StartLine: 14 + i,
			Fingerprint: checks.Fingerprint(checks.IaC, "AWS-0086", fmt.Sprint(i), "r"),
			Remediation: checks.Remediation{Text: "Enable blocking any PUT calls with a public ACL specified. " +
				strings.Repeat("Set block_public_acls = true on the aws_s3_bucket_public_access_block resource. ", 3)},
		}
		iacFindings = append(iacFindings, f)
		iac = append(iac, checks.Evaluated{Finding: f, Status: checks.StatusNew, Blocking: i == 0})
	}
	custom := checks.Finding{
		Check: checks.IaC, RuleID: "USER-ACME-0001", Severity: checks.SeverityMedium,
		Title: "Every bucket carries the team label", File: "Dockerfile",
		Fingerprint: checks.Fingerprint(checks.IaC, "USER-ACME-0001", "Dockerfile", "x"),
		Remediation: checks.Remediation{Text: "Add a team label"},
	}
	iacFindings = append(iacFindings, custom)
	iac = append(iac, checks.Evaluated{Finding: custom, Status: checks.StatusExisting})
	except := checks.Suppressed{
		Reason: "policy exception AWS-0089 for " + deep + "/ (owner @acme/platform-security-and-compliance, expires 2026-12-31): " +
			"access logs go to the central logging account, which the platform team owns and audits every quarter",
		Finding: checks.Finding{Check: checks.IaC, RuleID: "AWS-0089", Severity: checks.SeverityLow, Title: "S3 Bucket Logging",
			File: deep + "/terraform/module-0/storage.tf", StartLine: 14,
			Fingerprint: checks.Fingerprint(checks.IaC, "AWS-0089", "m0", "r")},
	}
	return &Report{
		Target: "/home/developer/src/github.com/acme/an-unusually-long-monorepository-name/checkouts/pull-request-4242",
		Base:   baseRev, Head: headRev,
		PolicyHash: "sha256:3f1c9be07a5d42e8b1f06c7d9e2a4b5c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
		PolicySources: []string{"acme/.github:.github/gatehouse.yml", "acme/an-unusually-long-monorepository-name:.github/gatehouse.yml",
			"/etc/gatehouse/server-policy.yml"},
		Results: []*checks.Result{
			{
				Check:    checks.Secrets,
				Engine:   checks.Engine{Name: "gitleaks", Version: "v8.30.1", DataVersion: "default rules v8.30.1 and 3 extra credential-files rules"},
				Findings: []checks.Finding{secret, short}, Suppressed: []checks.Suppressed{pending},
				Scope: checks.Scope{Commits: 120, Files: 4000, Bytes: 80 << 20},
			},
			{
				Check:    checks.Dependencies,
				Engine:   checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "db 2026-06-29T10:21:00Z"},
				Findings: []checks.Finding{spring},
				Scope: checks.Scope{Files: 100, Bytes: 40 << 20, Inputs: inputs,
					Skipped: []checks.Skip{{Path: deep + "/vendor/legacy/a-lockfile-with-a-name-that-goes-on/package-lock.json",
						Reason: "larger than 20 MiB, the content limit of this server (--max-file-size)"}},
					Notes: []string{"licenses not classified: the scan runs with an empty GOPATH, so the module cache at " +
						"/home/developer/go/pkg/mod/cache/download/github.com/some/very/long/module/path/@v is not read"}},
			},
			{
				Check:    checks.IaC,
				Engine:   checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "trivy-checks v1.12.2"},
				Findings: iacFindings, Suppressed: []checks.Suppressed{except},
				Scope: checks.Scope{Files: 300, Bytes: 3 << 20, Inputs: []string{deep + "/terraform/module-0/a-terraform-file-with-a-long-name.tf"}},
				Custom: []checks.CustomStatus{
					{Name: "acme/.github:.github/gatehouse/checks/every-bucket-carries-the-team-label-and-the-cost-centre.rego"},
					{Name: "acme/an-unusually-long-monorepository-name:.github/gatehouse/checks/broken.rego", Line: 3,
						Rejected: "rego_parse_error: unexpected eof token: expected rule value term (e.g., broken[x] { ... }) or ..."},
				},
			},
		},
		Verdicts: []checks.Verdict{
			{
				Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title: "2 new secrets block this change, one in a commit the change brings and one already in its base branch",
				Findings: []checks.Evaluated{
					{Finding: secret, Status: checks.StatusNew, Blocking: true},
					{Finding: short, Status: checks.StatusNew, Blocking: true},
				},
				Pending: []checks.Suppressed{pending},
			},
			{
				Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title:    "1 new critical vulnerability blocks this change",
				Findings: []checks.Evaluated{{Finding: spring, Status: checks.StatusNew, Blocking: true}},
				Error: "trivy: analyze /home/developer/src/github.com/acme/an-unusually-long-monorepository-name/checkouts/" +
					"pull-request-4242/services/service-099/web/frontend/package-lock.json: unexpected end of JSON input",
			},
			{
				Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionFailure,
				Title: "1 new high misconfiguration blocks this change", Findings: iac,
				Notes: []string{"exception AWS-0089 expires in 180 days; ask @acme/platform-security-and-compliance to renew it before it lapses"},
			},
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
	{"long", longReport},
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
