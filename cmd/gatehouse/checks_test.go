package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const examples = "../../testdata/custom-checks"

// The guide's examples pass their own tests.
func TestChecksTestPassesOnTheExamples(t *testing.T) {
	for _, dir := range []string{"kubernetes-team-label", "terraform-cost-centre"} {
		out, code := run(t, "checks", "test", filepath.Join(examples, dir))
		if code != 0 {
			t.Errorf("checks test %s: exit %d\n%s", dir, code, out)
		}
		if !strings.Contains(out, "0 failed") || strings.Contains(out, " 0 passed") {
			t.Errorf("checks test %s did not run passing tests:\n%s", dir, out)
		}
	}
}

// A failing test, and a check that calls a refused builtin, each exit 1.
func TestChecksTestFails(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(examples, "kubernetes-team-label", "team_label.rego"))
	if err != nil {
		t.Fatal(err)
	}
	failing := t.TempDir()
	write(t, failing, "team_label.rego", string(src))
	write(t, failing, "team_label_test.rego", `package user.kubernetes.team_label_test

import rego.v1

import data.user.kubernetes.team_label as check

test_wrong_expectation if {
	res := check.deny with input as {"kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "a"}}}
	count(res) == 1
}
`)
	out, code := run(t, "checks", "test", failing)
	if code != 1 || !strings.Contains(out, "FAIL     user.kubernetes.team_label_test.test_wrong_expectation") {
		t.Errorf("failing test: exit %d\n%s", code, out)
	}

	refused := t.TempDir()
	write(t, refused, "team_label.rego", strings.Replace(string(src), "\tnot input.metadata.labels.team\n",
		"\tnot input.metadata.labels.team\n\thttp.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1/\"})\n", 1))
	out, code = run(t, "checks", "test", refused)
	if code != 1 || !strings.Contains(out, "REJECTED") || !strings.Contains(out, "team_label.rego:23") || !strings.Contains(out, "http.send") {
		t.Errorf("refused builtin: exit %d\n%s", code, out)
	}
}

func TestChecksExplain(t *testing.T) {
	out, code := run(t, "checks", "explain", "KSV-0017")
	if code != 0 || !strings.Contains(out, "built-in") || !strings.Contains(strings.ToLower(out), "privileged") {
		t.Errorf("explain KSV-0017: exit %d\n%s", code, out)
	}
	out, code = run(t, "checks", "explain", "--dir", filepath.Join(examples, "kubernetes-team-label"), "org-k8s-001")
	if code != 0 || !strings.Contains(out, "ORG-K8S-001  Deployment names its owning team") || !strings.Contains(out, "team_label.rego") ||
		!strings.Contains(out, "Add metadata.labels.team") {
		t.Errorf("explain ORG-K8S-001: exit %d\n%s", code, out)
	}
	if out, code := run(t, "checks", "explain", "NO-SUCH-1"); code != 1 || !strings.Contains(out, "no check with that id") {
		t.Errorf("explain of an unknown id: exit %d\n%s", code, out)
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The guide's local try-out: scan the example folder with its check.
func TestScanWithCustomChecks(t *testing.T) {
	dir := filepath.Join(examples, "kubernetes-team-label")
	out, code := run(t, "scan", "--data-dir", testDataDir(t), "--checks", "iac", "--custom-checks", dir, dir)
	if code != 1 || !strings.Contains(out, "ORG-K8S-001") || !strings.Contains(out, "deployment.yaml:3") ||
		!strings.Contains(out, "custom check: "+filepath.ToSlash(filepath.Join(dir, "team_label.rego"))) {
		t.Errorf("scan --custom-checks: exit %d\n%s", code, out)
	}
}
