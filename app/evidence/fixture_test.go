package evidence_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
	goldenfile "github.com/gatehouse/gatehouse/internal/golden"
)

const (
	headSHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	baseSHA = "4b2e8c1d9a7f60e5d3c2b1a0f9e8d7c6b5a49382"
)

var (
	started = time.Date(2026, 11, 2, 14, 3, 5, 250_000_000, time.UTC)
	dbDate  = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
)

// clock is a settable time source for the Recorder.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a Recorder on a fresh store of one driver.
type env struct {
	cfg   store.Config
	st    *store.Store
	rec   *evidence.Recorder
	clock *clock
	ctx   context.Context
}

func newEnv(t *testing.T, driver string) *env {
	t.Helper()
	cfg := storetest.Config(t, driver)
	st := storetest.OpenConfig(t, cfg)
	c := &clock{t: started.Add(90 * time.Second)}
	r, err := evidence.New(context.Background(), evidence.Config{Store: st, Now: c.Now, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{cfg: cfg, st: st, rec: r, clock: c, ctx: context.Background()}
}

func (e *env) record(t *testing.T, in evidence.Input) string {
	t.Helper()
	id, err := e.rec.Record(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sbom is a CycloneDX document listing two npm packages, as trivy writes
// one for a package-lock.json.
func sbom(t *testing.T) []byte {
	t.Helper()
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.SerialNumber = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
	bom.Components = &[]cdx.Component{
		{BOMRef: "pkg:npm/lodash@4.17.20", Type: cdx.ComponentTypeLibrary, Name: "lodash", Version: "4.17.20", PackageURL: "pkg:npm/lodash@4.17.20"},
		{BOMRef: "pkg:npm/express@4.18.2", Type: cdx.ComponentTypeLibrary, Name: "express", Version: "4.18.2", PackageURL: "pkg:npm/express@4.18.2"},
	}
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).Encode(bom); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fixturePolicy is an org policy with an IaC exception, resolved the way
// the worker resolves it.
func fixturePolicy(t *testing.T) *policy.Policy {
	t.Helper()
	f, err := policy.Parse("acme/.github:.github/gatehouse.yml", []byte(`version: 1
checks:
  dependencies: {min_severity: high}
exceptions:
  - id: AWS-0089
    reason: "log bucket, access logging would loop"
    owner: "@acme/platform"
    expires: 2027-06-30
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Resolve(policy.Layer{Source: policy.SourceOrg, File: f})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// results are a pull request's scan: a secret (redacted) and one allowed
// by gitleaks:allow, a vulnerable dependency with an SBOM, and an IaC
// misconfiguration the policy excepts.
func results(t *testing.T) []*checks.Result {
	secret := checks.Finding{
		Check: checks.Secrets, RuleID: "aws-access-token", Severity: checks.SeverityHigh, Title: "AWS access token",
		Message: "gitleaks rule aws-access-token matched a possible secret at config.env:2", File: "config.env",
		StartLine: 2, EndLine: 2, Commit: headSHA, Match: "AKIA************MPLE",
		Fingerprint: checks.Fingerprint(checks.Secrets, "aws-access-token", "config.env", "sha256:5e88"),
		Remediation: checks.Remediation{Text: "Revoke and rotate the key", URL: "https://docs.github.com/en/authentication"},
	}
	allowed := checks.Suppressed{Reason: "gitleaks:allow comment on the line", Finding: checks.Finding{
		Check: checks.Secrets, RuleID: "generic-api-key", Severity: checks.SeverityMedium, Title: "Generic API Key",
		File: "test/fixture.go", StartLine: 7, Match: "sk_t************3f9a",
		Fingerprint: checks.Fingerprint(checks.Secrets, "generic-api-key", "test/fixture.go", "sha256:2c26"),
	}}
	lodash := checks.Finding{
		Check: checks.Dependencies, RuleID: "CVE-2021-23337", Severity: checks.SeverityHigh,
		Title: "nodejs-lodash: command injection via template", File: "package-lock.json",
		Fingerprint: checks.Fingerprint(checks.Dependencies, "CVE-2021-23337", "package-lock.json", "lodash@4.17.20"),
		Remediation: checks.Remediation{URL: "https://avd.aquasec.com/nvd/cve-2021-23337", Package: "lodash", InstalledVersion: "4.17.20", FixedVersion: "4.17.21"},
	}
	bucket := checks.Finding{
		Check: checks.IaC, RuleID: "AWS-0089", Severity: checks.SeverityMedium, Title: "S3 bucket without access logging",
		File: "infra/main.tf", StartLine: 4, EndLine: 7,
		Fingerprint: checks.Fingerprint(checks.IaC, "AWS-0089", "infra/main.tf", `resource "aws_s3_bucket" "logs"`),
	}
	team := checks.Finding{
		Check: checks.IaC, RuleID: "ORG-K8S-001", Severity: checks.SeverityHigh, Title: "Deployment names its owning team",
		Message: "Deployment 'web' has no team label", File: "k8s/web.yaml", StartLine: 4, EndLine: 6,
		Fingerprint: checks.Fingerprint(checks.IaC, "ORG-K8S-001", "k8s/web.yaml", "Deployment 'web' has no team label"),
		Custom:      "Acme/.github:.github/gatehouse/checks/team_label.rego",
	}
	return []*checks.Result{
		{Check: checks.Secrets, Engine: checks.Engine{Name: "gitleaks", Version: "v8.30.1", DataVersion: "rules v8.30.1"},
			Findings: []checks.Finding{secret}, Suppressed: []checks.Suppressed{allowed},
			Scope: checks.Scope{Commits: 2, Files: 3, Bytes: 2048}},
		{Check: checks.Dependencies, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "db 2026-11-01"},
			Findings: []checks.Finding{lodash}, Scope: checks.Scope{Files: 1, Bytes: 512, Inputs: []string{"package-lock.json"}},
			SBOM: sbom(t)},
		{Check: checks.IaC, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0", DataVersion: "checks bundle v1.12"},
			Findings: []checks.Finding{bucket, team}, Scope: checks.Scope{Files: 2, Bytes: 500, Inputs: []string{"infra/main.tf", "k8s/web.yaml"}},
			Custom: []checks.CustomStatus{
				{Name: "Acme/.github:.github/gatehouse/checks/team_label.rego", Origin: checks.OriginOrg, ID: "ORG-K8S-001",
					SHA256: "4f2b8a0c6e1d3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b0c2d4e6f8a0b1c3d5e7f9a"},
				{Name: ".github/gatehouse/checks/phone_home.rego", Origin: checks.OriginRepo, Line: 17,
					SHA256:   "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
					Rejected: "does not compile: calls http.send, which custom checks may not use (network access)"},
			}},
	}
}

// prInput is the evidence input of pull request #7's scan, decided by the
// real policy evaluation.
func prInput(t *testing.T) evidence.Input {
	t.Helper()
	pol := fixturePolicy(t)
	res := results(t)
	verdicts := policy.Evaluate(policy.Input{Policy: pol, Results: res, Now: started})
	var sources []string
	for _, s := range pol.Sources() {
		sources = append(sources, s.Source.String()+" ("+s.Name+")")
	}
	return evidence.Input{
		Scan: jobs.Scan{
			DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", InstallationID: 1, Repo: "Acme/Widgets", Kind: jobs.ScanPullRequest,
			HeadSHA: headSHA, BaseSHA: baseSHA, BaseRef: "main", DefaultBranch: "main", PRNumber: 7, Trigger: "pull_request opened",
			CheckRuns: map[string]int64{checks.Secrets: 11, checks.Dependencies: 12, checks.IaC: 13},
		},
		Verdicts: verdicts, Results: res, PolicyCanonical: pol.Canonical(), PolicySources: sources,
		DBUpdatedAt: dbDate, Version: "v0.9.0", Started: started, Finished: started.Add(83 * time.Second),
	}
}

// golden compares got with testdata/golden/<name>, or rewrites it with
// -update (go test ./app/evidence -update).
func golden(t *testing.T, name string, got []byte) { goldenfile.Check(t, name, got) }
