package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/format"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// sarifSchema compiles the SARIF 2.1.0 schema (from an npm package, see
// testdata/sarif/README.md).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "sarif", "sarif-schema-2.1.0.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "file:///sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile SARIF schema: %v", err)
	}
	return sch
}

// sarifReport is the fixture pull request's verdicts: a blocking secret
// (whose message carries the raw secret, which must not leave), an
// existing dependency finding, and a clean IaC check.
func (e *env) sarifReport() *format.Report {
	secret := e.secret()
	dep := finding(checks.Dependencies, "CVE-2021-23337", "package-lock.json", 0, 0, "f00d0002")
	dep.Blocking, dep.Status, dep.Remediation = false, checks.StatusExisting, checks.Remediation{Package: "lodash", InstalledVersion: "4.17.20", FixedVersion: "4.17.21"}
	vs := []checks.Verdict{verdict(checks.Secrets, secret), verdict(checks.Dependencies, dep), verdict(checks.IaC)}
	var results []*checks.Result
	for _, v := range vs {
		r := &checks.Result{Check: v.Check, Engine: checks.Engine{Name: "engine-" + v.Check, Version: "v1"}}
		for _, f := range v.Findings {
			r.Findings = append(r.Findings, f.Finding)
		}
		results = append(results, r)
	}
	return &format.Report{Target: ".", Head: e.pr.HeadSHA, Verdicts: vs, Results: results, PolicyHash: "ed42f29cddff"}
}

func TestUploadSARIF(t *testing.T) {
	e := newEnv(t)
	sch := sarifSchema(t)
	tests := []struct {
		name   string
		target SARIFTarget
	}{
		{"pull request", SARIFTarget{Repo: e.pr.Repo, CommitSHA: e.pr.HeadSHA, Ref: SARIFRef(e.pr.Number, "feature")}},
		{"push", SARIFTarget{Repo: e.pr.Repo, CommitSHA: e.pr.HeadSHA, Ref: SARIFRef(0, "feature")}},
	}
	r := e.sarifReport()
	before := r.Verdicts[0].Findings[0].Message
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := UploadSARIF(e.ctx, e.gh, tt.target, r)
			if err != nil || id == "" {
				t.Fatalf("upload = %q, %v", id, err)
			}
			ups := e.fake.SARIFUploads("acme/widgets")
			if len(ups) != i+1 {
				t.Fatalf("%d uploads, want %d", len(ups), i+1)
			}
			up := ups[i]
			if up.ID != id || up.CommitSHA != tt.target.CommitSHA || up.Ref != tt.target.Ref || up.ToolName != SARIFToolName {
				t.Errorf("upload = %+v, want %+v", up, tt.target)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(up.SARIF))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("uploaded SARIF is not valid SARIF 2.1.0: %v", err)
			}
			var doc struct {
				Runs []struct {
					AutomationDetails struct {
						ID string `json:"id"`
					} `json:"automationDetails"`
					Results []json.RawMessage `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(up.SARIF, &doc); err != nil {
				t.Fatal(err)
			}
			var cats []string
			for j, run := range doc.Runs {
				cats = append(cats, run.AutomationDetails.ID)
				if len(run.Results) != len(r.Verdicts[j].Findings) {
					t.Errorf("run %s: %d results, want %d", run.AutomationDetails.ID, len(run.Results), len(r.Verdicts[j].Findings))
				}
			}
			if got := strings.Join(cats, " "); got != "gatehouse/secrets/ gatehouse/dependencies/ gatehouse/iac/" {
				t.Errorf("one run per check: categories %q", got)
			}
			if !bytes.Contains(up.SARIF, []byte("aws_key=REDACTED")) {
				t.Error("the redacted match is missing")
			}
			if bytes.Contains(up.SARIF, []byte(rawSecret)) {
				t.Error("the uploaded SARIF carries the raw secret")
			}
		})
	}
	e.noSecretSent(t)
	if r.Verdicts[0].Findings[0].Message != before {
		t.Error("UploadSARIF changed the caller's report")
	}
	if got := []string{SARIFRef(12, "x"), SARIFRef(0, "main")}; got[0] != "refs/pull/12/head" || got[1] != "refs/heads/main" {
		t.Errorf("refs = %v", got)
	}
}

func TestUploadSARIFNeedsSecurityEvents(t *testing.T) {
	e := newEnv(t, githubtest.AllowRejections())
	perms := githubtest.DefaultPermissions()
	delete(perms, "security_events")
	e.fake.SetInstallationPermissions(installation, perms)
	base := e.fake.URL() + "/"
	gh, err := github.NewClient(github.WithAuthToken(e.fake.IssueToken(installation)), github.WithURLs(&base, &base))
	if err != nil {
		t.Fatal(err)
	}
	e.gh = gh
	_, err = UploadSARIF(e.ctx, e.gh, SARIFTarget{Repo: e.pr.Repo, CommitSHA: e.pr.HeadSHA, Ref: SARIFRef(e.pr.Number, "")}, e.sarifReport())
	if err == nil || len(e.fake.SARIFUploads("acme/widgets")) != 0 {
		t.Errorf("upload without security_events: %v, want an error and no upload", err)
	}
}
