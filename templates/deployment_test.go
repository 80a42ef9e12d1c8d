package templates

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// The answers to a deployment protection rule: a rejection names what
// blocks (rule, file, package and fixed version) and links the evidence.
func TestDeploymentGolden(t *testing.T) {
	sv, _ := secretsVerdict()
	vuln := checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2024-45337", Severity: checks.SeverityCritical, Title: "golang.org/x/crypto: misuse of ServerConfig.PublicKeyCallback",
		File: "go.mod", StartLine: 5, Fingerprint: "fp2",
		Remediation: checks.Remediation{Package: "golang.org/x/crypto", InstalledVersion: "v0.30.0", FixedVersion: "0.31.0"},
	}
	depsV := checks.Verdict{
		Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure, Title: "1 critical vulnerability blocks",
		Findings: []checks.Evaluated{{Finding: vuln, Status: checks.StatusExisting, Blocking: true, Reason: "critical ≥ min_severity high"}},
	}
	iacV := checks.Verdict{Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No misconfigurations found"}
	for name, d := range map[string]DeploymentData{
		"approved": {Approved: true, Environment: "staging", SHA: crHead, PolicyHash: "04ad722df867", EvidenceID: "0123456789abcdef0123456789abcdef",
			Verdicts: []checks.Verdict{iacV}},
		"rejected": {Environment: "production", SHA: crHead, Overlay: true, PolicyHash: "5d2c1f0e9a8b", EvidenceID: "0123456789abcdef0123456789abcdef",
			DetailsURL: "https://gatehouse.example/verdicts/0123456789abcdef0123456789abcdef", Verdicts: []checks.Verdict{sv, depsV, iacV}},
		"rejected_scanned": {Environment: "production", SHA: crHead, Scanned: true, PolicyHash: "04ad722df867", EvidenceID: "0123456789abcdef0123456789abcdef",
			Verdicts: []checks.Verdict{sv}},
	} {
		out, err := Deployment(d)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "deployment_"+name+".md", out)
	}
}

// At most MaxDeploymentRows findings are listed; the rest are counted.
func TestDeploymentBoundsRows(t *testing.T) {
	sv, _ := secretsVerdict()
	f := sv.Findings[0]
	sv.Findings = nil
	for range MaxDeploymentRows + 3 {
		sv.Findings = append(sv.Findings, f)
	}
	out, err := Deployment(DeploymentData{Environment: "production", SHA: crHead, Verdicts: []checks.Verdict{sv}})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "github-pat"); n != MaxDeploymentRows {
		t.Errorf("%d findings listed, want %d", n, MaxDeploymentRows)
	}
	if !strings.Contains(out, "… and 3 more blocking findings") {
		t.Errorf("the omitted findings are not counted:\n%s", out)
	}
}
