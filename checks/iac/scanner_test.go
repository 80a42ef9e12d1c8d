package iac

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

func TestFixtureFindings(t *testing.T) {
	res := run(t, scanner(t), checks.Target{Dir: fixtureDir})

	tests := []struct {
		name     string
		rule     string
		file     string
		start    int
		end      int
		severity checks.Severity
	}{
		{"security group open to 0.0.0.0/0 (via tfvars)", "AWS-0107", "terraform/main.tf", 18, 18, checks.SeverityHigh},
		{"public-read bucket ACL (local module, tfvars)", "AWS-0092", "terraform/modules/bucket/main.tf", 15, 15, checks.SeverityHigh},
		{"bucket without public access block", "AWS-0086", "terraform/modules/bucket/main.tf", 9, 11, checks.SeverityHigh},
		{"privileged container", "KSV-0017", "k8s/deployment.yaml", 17, 23, checks.SeverityHigh},
		{"container running as root", "KSV-0105", "k8s/deployment.yaml", 21, 23, checks.SeverityLow},
		{"runAsNonRoot not set", "KSV-0012", "k8s/deployment.yaml", 17, 23, checks.SeverityMedium},
		{"Dockerfile without USER", "DS-0002", "Dockerfile", 0, 0, checks.SeverityHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := slices.IndexFunc(res.Findings, func(f checks.Finding) bool { return f.RuleID == tt.rule && f.File == tt.file })
			if i < 0 {
				t.Fatalf("no %s finding in %s; got %v", tt.rule, tt.file, locs(res.Findings))
			}
			f := res.Findings[i]
			if f.StartLine != tt.start || f.EndLine != tt.end {
				t.Errorf("lines = %d-%d, want %d-%d", f.StartLine, f.EndLine, tt.start, tt.end)
			}
			if f.Severity != tt.severity {
				t.Errorf("severity = %v, want %v", f.Severity, tt.severity)
			}
			if f.Check != checks.IaC || f.Title == "" || f.Message == "" || f.Remediation.Text == "" {
				t.Errorf("incomplete finding: %+v", f)
			}
			if want := "https://avd.aquasec.com/misconfig/" + strings.ToLower(tt.rule); f.Remediation.URL != want {
				t.Errorf("URL = %q, want %q", f.Remediation.URL, want)
			}
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(f.Fingerprint) {
				t.Errorf("fingerprint = %q", f.Fingerprint)
			}
		})
	}
	if len(res.Suppressed) != 0 {
		t.Errorf("suppressed = %+v, want none", res.Suppressed)
	}
	fps := make(map[string]loc)
	for _, f := range res.Findings {
		if prev, dup := fps[f.Fingerprint]; dup {
			t.Errorf("fingerprint %s shared by %v and %v", f.Fingerprint, prev, loc{f.RuleID, f.File, f.StartLine})
		}
		fps[f.Fingerprint] = loc{f.RuleID, f.File, f.StartLine}
	}
}

func TestFixtureScope(t *testing.T) {
	s := scanner(t)
	res := run(t, s, checks.Target{Dir: fixtureDir})
	wantInputs := []string{
		"Dockerfile (dockerfile)",
		"k8s/deployment.yaml (kubernetes)",
		"terraform/main.tf (terraform)",
		"terraform/modules/bucket/main.tf (terraform)",
		"terraform/terraform.tfvars (terraform)",
		"terraform/variables.tf (terraform)",
	}
	if !reflect.DeepEqual(res.Scope.Inputs, wantInputs) {
		t.Errorf("inputs = %q\nwant     %q", res.Scope.Inputs, wantInputs)
	}
	if res.Scope.Files != len(wantInputs) || res.Scope.Bytes == 0 {
		t.Errorf("files = %d, bytes = %d", res.Scope.Files, res.Scope.Bytes)
	}
	wantNote := "checked 6 infrastructure-as-code files: 4 terraform, 1 kubernetes, 1 dockerfile"
	if !slices.Contains(res.Scope.Notes, wantNote) {
		t.Errorf("notes = %q, want %q", res.Scope.Notes, wantNote)
	}
	if res.Check != checks.IaC || res.Engine != s.Engine() {
		t.Errorf("result check/engine = %q/%+v", res.Check, res.Engine)
	}
}

func TestCleanRepo(t *testing.T) {
	res := run(t, scanner(t), checks.Target{Dir: cleanDir})
	if len(res.Findings) != 0 || len(res.Suppressed) != 0 {
		t.Errorf("findings = %v, suppressed = %v; want none", locs(res.Findings), res.Suppressed)
	}
	if res.Findings == nil {
		t.Error("Findings is nil; want an empty list so JSON says []")
	}
	if !slices.Contains(res.Scope.Notes, "no infrastructure-as-code files found") || res.Scope.Files != 0 {
		t.Errorf("scope = %+v", res.Scope)
	}
}

func TestEngine(t *testing.T) {
	s := scanner(t)
	if s.Name() != checks.IaC {
		t.Errorf("Name = %q", s.Name())
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := func(module string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(\S+)`).FindSubmatch(gomod)
		if m == nil {
			t.Fatalf("%s not in go.mod", module)
		}
		return string(m[1])
	}
	e := s.Engine()
	if e.Name != "trivy" || e.Version != want(trivyModule) || e.DataVersion != want(trivyChecksModule) {
		t.Errorf("Engine = %+v, want trivy %s, checks %s", e, want(trivyModule), want(trivyChecksModule))
	}
	if pinnedTrivyVersion != want(trivyModule) || pinnedChecksVersion != want(trivyChecksModule) {
		t.Errorf("pinned fallbacks %s/%s differ from go.mod", pinnedTrivyVersion, pinnedChecksVersion)
	}
}

func TestTargetPaths(t *testing.T) {
	s := scanner(t)
	tests := []struct {
		name  string
		paths []string
		want  []string // files with findings
	}{
		{"one file", []string{"Dockerfile"}, []string{"Dockerfile"}},
		{"one directory", []string{"k8s"}, []string{"k8s/deployment.yaml"}},
		{"overlapping", []string{"k8s", "k8s/deployment.yaml", "./Dockerfile"}, []string{"Dockerfile", "k8s/deployment.yaml"}},
		{"missing path", []string{"nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, s, checks.Target{Dir: fixtureDir, Paths: tt.paths})
			var files []string
			for _, f := range res.Findings {
				if !slices.Contains(files, f.File) {
					files = append(files, f.File)
				}
			}
			if !reflect.DeepEqual(files, tt.want) {
				t.Errorf("files with findings = %q, want %q", files, tt.want)
			}
		})
	}
	for _, bad := range []string{"../clean", "/etc", "k8s/../../clean"} {
		if _, err := s.Run(context.Background(), checks.Target{Dir: fixtureDir, Paths: []string{bad}}); err == nil {
			t.Errorf("Paths %q: want an error", bad)
		}
	}
}

func TestOtherFormats(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"cfn/bucket.yaml": `AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Assets:
    Type: AWS::S3::Bucket
    Properties:
      AccessControl: PublicRead
`,
		"arm/storage.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {
      "type": "Microsoft.Storage/storageAccounts",
      "apiVersion": "2022-09-01",
      "name": "gatehousefixture",
      "location": "westeurope",
      "kind": "StorageV2",
      "properties": {
        "supportsHttpsTrafficOnly": false
      }
    }
  ]
}
`,
		"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/values.yaml": "image: nginx:1.27.0\n",
		"chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          securityContext:
            privileged: true
`,
		"docs/notes.yaml": "title: not infrastructure\n",
	})
	res := run(t, scanner(t), checks.Target{Dir: dir})
	for _, want := range []loc{
		{"AWS-0092", "cfn/bucket.yaml", 6},
		{"AZU-0008", "arm/storage.json", 12},
		{"KSV-0017", "chart/templates/deployment.yaml", 16},
	} {
		if !slices.Contains(locs(res.Findings), want) {
			t.Errorf("missing %v in %v", want, locs(res.Findings))
		}
	}
	if len(res.Scope.Skipped) != 0 {
		t.Errorf("skipped = %+v; want none", res.Scope.Skipped)
	}
	wantInputs := []string{
		"arm/storage.json (azure-arm)",
		"cfn/bucket.yaml (cloudformation)",
		"chart/Chart.yaml (helm)",
		"chart/templates/deployment.yaml (helm)",
		"chart/values.yaml (helm)",
	}
	if !reflect.DeepEqual(res.Scope.Inputs, wantInputs) {
		t.Errorf("inputs = %q\nwant     %q", res.Scope.Inputs, wantInputs)
	}
}

// TestReuse runs one Scanner twice: the compiled checks carry no state from
// one scan into the next.
func TestReuse(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := run(t, s, checks.Target{Dir: fixtureDir})
	run(t, s, checks.Target{Dir: cleanDir})
	second := run(t, s, checks.Target{Dir: fixtureDir})
	if !reflect.DeepEqual(first, second) {
		t.Errorf("second scan differs:\nfirst  %v\nsecond %v", locs(first.Findings), locs(second.Findings))
	}
}

// TestChecksCompiledOnFirstIaCFile: New leaves trivy's checks uncompiled, a
// scan without an IaC file leaves them so, and the first scan that finds
// one compiles them (and finds what a fresh compile finds).
func TestChecksCompiledOnFirstIaCFile(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.rego != nil {
		t.Fatal("New compiled the checks")
	}
	plain := writeTree(t, t.TempDir(), map[string]string{"main.go": "package main\n", "README.md": "# x\n"})
	if res := run(t, s, checks.Target{Dir: plain}); len(res.Findings) != 0 || res.Engine.Version == "" {
		t.Fatalf("scan of a tree without IaC files: %+v", res)
	}
	if s.rego != nil {
		t.Fatal("a scan without an IaC file compiled the checks")
	}
	docker := writeTree(t, t.TempDir(), map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN echo hi\n"})
	res := run(t, s, checks.Target{Dir: docker})
	if s.rego == nil {
		t.Fatal("a scan of a Dockerfile did not compile the checks")
	}
	if !slices.ContainsFunc(res.Findings, func(f checks.Finding) bool { return f.RuleID == "DS-0002" }) {
		t.Errorf("Dockerfile without USER: no DS-0002 in %v", locs(res.Findings))
	}
}
