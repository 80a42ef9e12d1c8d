package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

func TestMain(m *testing.M) {
	// Run as gatehouse itself (runMain): main with the real stderr.
	if os.Getenv("GATEHOUSE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	// trivy buffers log lines in slog's default logger until told otherwise.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

var (
	dataOnce sync.Once
	dataDir  string
)

// testDataDir holds the fixture vulnerability DB, shared by the package
// (trivy keeps one DB per process).
func testDataDir(t *testing.T) string {
	t.Helper()
	dataOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-cmd-")
		if err != nil {
			t.Fatal(err)
		}
		depstest.BuildDB(t, registry.DBDir(dir))
		dataDir = dir
	})
	return dataDir
}

// run runs the gatehouse command line in-process and returns its output and
// exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.code
	default:
		return out.String() + err.Error(), 2
	}
}

func TestScanExitCodes(t *testing.T) {
	data := testDataDir(t)
	tests := []struct {
		dir      string
		want     int
		contains []string
	}{
		{dir: "../../testdata/repos/clean", want: 0, contains: []string{"no blocking findings"}},
		{dir: "../../testdata/repos/iac", want: 1, contains: []string{"AWS-0107", "terraform/main.tf"}},
		{dir: "../../testdata/repos/deps", want: 1, contains: []string{"package-lock.json"}},
		{dir: "../../testdata/repos/secrets", want: 1, contains: []string{"aws-access-token", "config/aws.env"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.dir), func(t *testing.T) {
			out, code := run(t, "scan", "--data-dir", data, tt.dir)
			if code != tt.want {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.want, out)
			}
			for _, c := range tt.contains {
				if !strings.Contains(out, c) {
					t.Errorf("output lacks %q:\n%s", c, out)
				}
			}
		})
	}
}

func TestScanUsageErrors(t *testing.T) {
	if _, code := run(t, "scan", "--format", "xml", "."); code != 2 {
		t.Errorf("bad format: exit %d, want 2", code)
	}
	if _, code := run(t, "scan", "/does/not/exist"); code != 2 {
		t.Errorf("missing dir: exit %d, want 2", code)
	}
}

func TestScanSARIFValidates(t *testing.T) {
	out, code := run(t, "scan", "--data-dir", testDataDir(t), "--format", "sarif", "../../testdata/repos/iac")
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("../../testdata/sarif/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate: %v", err)
	}
}

func TestScanJSONAndSBOM(t *testing.T) {
	data := testDataDir(t)
	out, code := run(t, "scan", "--data-dir", data, "--format", "json", "../../testdata/repos/deps")
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var doc struct {
		Checks []struct {
			Check    string          `json:"check"`
			Scope    json.RawMessage `json:"scope"`
			Findings []struct {
				RuleID string `json:"rule_id"`
			} `json:"findings"`
		} `json:"checks"`
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Checks) != 3 || doc.ExitCode != 1 {
		t.Fatalf("json = %+v", doc)
	}
	for _, c := range doc.Checks {
		if len(c.Scope) == 0 {
			t.Errorf("check %s has no scope", c.Check)
		}
	}
	// The exit code is the verdict's, as for every format: 1, a
	// vulnerability blocks.
	sbom, code := run(t, "scan", "--data-dir", data, "--format", "cyclonedx", "../../testdata/repos/deps")
	if code != 1 || !strings.Contains(sbom, `"bomFormat": "CycloneDX"`) && !strings.Contains(sbom, `"bomFormat":"CycloneDX"`) {
		t.Fatalf("cyclonedx exit %d:\n%.400s", code, sbom)
	}
}

// --base: a secret added then removed inside the range still blocks; IaC
// findings already at the base are existing and do not.
func TestScanGitRange(t *testing.T) {
	dir := gittest.New(t)
	gittest.CommitDir(t, dir, "base with infra", "../../testdata/repos/iac")
	base := gittest.Head(t, dir)
	gittest.Commit(t, dir, "add token", map[string]string{"ci.env": "GITHUB_TOKEN=ghp_R8mZ2xQ7vN4kL9pW3sT6yB1cF5hJ0dG8aE2u\n"})
	gittest.Remove(t, dir, "remove token", "ci.env")
	out, code := run(t, "scan", "--data-dir", testDataDir(t), "--base", base, "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var doc struct {
		Checks []struct {
			Check      string `json:"check"`
			Conclusion string `json:"conclusion"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range doc.Checks {
		got[c.Check] = c.Conclusion
	}
	if got["secrets"] != "failure" || got["iac"] != "neutral" {
		t.Errorf("conclusions = %v, want secrets failure (history) and iac neutral (existing at base)", got)
	}
	if strings.Contains(out, "R8mZ2xQ7vN4kL9pW3sT6") {
		t.Error("the secret is printed")
	}
}

func TestDBStatusAndImport(t *testing.T) {
	empty := t.TempDir()
	out, code := run(t, "db", "status", "--data-dir", empty)
	if code != 1 || !strings.Contains(out, "missing") {
		t.Errorf("status of an empty dir: exit %d:\n%s", code, out)
	}
	archive := filepath.Join(t.TempDir(), "db.tar.gz")
	depstest.BuildDBArchive(t, archive)
	target := t.TempDir()
	out, code = run(t, "db", "import", "--data-dir", target, archive)
	if code != 0 || !strings.Contains(out, "version:    2") {
		t.Fatalf("import: exit %d:\n%s", code, out)
	}
	out, code = run(t, "db", "status", "--data-dir", target, "--json")
	if code != 0 || !strings.Contains(out, `"present":true`) {
		t.Errorf("status after import: exit %d:\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	out, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "gatehouse ") {
		t.Errorf("version: %d %s", code, out)
	}
}

func TestPolicyCheckAndExplain(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	good := filepath.Join(dir, "good.yml")
	if err := os.WriteFile(bad, []byte("version: 1\nchecks:\n  iac:\n    min_sevrity: low\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("version: 1\nchecks:\n  iac:\n    mode: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "policy", "check", good, bad)
	if code != 1 || !strings.Contains(out, "bad.yml:4:5: unknown key \"min_sevrity\"") || !strings.Contains(out, "good.yml: ok") {
		t.Errorf("policy check: exit %d:\n%s", code, out)
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, ".github"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".github", "gatehouse.yml"), []byte("version: 1\nchecks:\n  secrets:\n    mode: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, "policy", "explain", "--org-policy", good, repo)
	if code != 0 {
		t.Fatalf("explain: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"checks.iac.mode                   warn", "org", "checks.secrets.mode", "repo"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, ".github", "gatehouse.yml"), []byte("version: 1\nenvironments:\n  production:\n    new_findings_only: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for env, want := range map[string]string{
		"production": "new_findings_only false repo " + filepath.Join(repo, ".github", "gatehouse.yml") + ":4",
		"staging":    "new_findings_only true default built-in",
	} {
		out, code = run(t, "policy", "explain", "--environment", env, repo)
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		if code != 0 || !slices.Contains(lines, want) || !strings.Contains(out, "for deployments to "+env) {
			t.Errorf("explain --environment %s: exit %d, want %q:\n%s", env, code, want, out)
		}
	}
}

// TestScanWithoutDB: a fresh machine has no vulnerability DB. A tree with
// nothing to match passes; one with lockfiles cannot be judged and the
// text says how to get a DB.
func TestScanWithoutDB(t *testing.T) {
	noDB := t.TempDir()
	empty := t.TempDir()
	out, code := run(t, "scan", "--offline", "--data-dir", noDB, empty)
	if code != 0 || !strings.Contains(out, "no lockfiles or manifests found") || strings.Contains(out, "downloading") {
		t.Errorf("empty directory without a DB: exit %d\n%s", code, out)
	}
	// First use without --offline tries the download, says so, and goes
	// on without a DB when the registry cannot be reached.
	out, code = run(t, "scan", "--data-dir", noDB, "--trivy-db-repository", "127.0.0.1:1/aquasec/trivy-db", "--checks", "dependencies", "../../testdata/repos/deps")
	if !strings.Contains(out, "no vulnerability DB in ") || !strings.Contains(out, "cannot be reached from this host (offline?)") {
		t.Errorf("first use, registry unreachable:\n%s", out)
	}
	if code != 1 || !strings.Contains(out, "gatehouse db update") || !strings.Contains(out, "gatehouse db import") {
		t.Errorf("lockfiles without a DB: exit %d\n%s", code, out)
	}
	// The SBOM needs no DB: it is written, and the exit code still says
	// the dependencies check could not complete.
	sbom := filepath.Join(t.TempDir(), "sbom.json")
	out, code = run(t, "scan", "--offline", "--data-dir", noDB, "-f", "cyclonedx", "-o", sbom, "../../testdata/repos/deps")
	b, err := os.ReadFile(sbom)
	if code != 1 || err != nil || !strings.Contains(string(b), "CycloneDX") || !strings.Contains(string(b), "lodash") {
		t.Errorf("cyclonedx without a DB: exit %d, %v\n%s\n%.400s", code, err, out, b)
	}
}

// TestScanCIFlags: --output writes the chosen format to a file (the exit
// code stays the contract), table is the text format's other name,
// --policy and --policy-file are one flag, --version answers.
func TestScanCIFlags(t *testing.T) {
	data := testDataDir(t)
	report := filepath.Join(t.TempDir(), "report.sarif")
	out, code := run(t, "scan", "--data-dir", data, "-f", "sarif", "-o", report, "../../testdata/repos/iac")
	b, err := os.ReadFile(report)
	if code != 1 || err != nil || !strings.Contains(string(b), `"AWS-0107"`) || strings.Contains(out, "AWS-0107") {
		t.Errorf("--output: exit %d, err %v, stdout:\n%s", code, err, out)
	}
	if out, code := run(t, "scan", "--data-dir", data, "--format", "table", "../../testdata/repos/clean"); code != 0 || !strings.Contains(out, "no blocking findings") {
		t.Errorf("--format table: exit %d\n%s", code, out)
	}
	pol := filepath.Join(t.TempDir(), "policy.yml")
	if err := os.WriteFile(pol, []byte("version: 1\nchecks:\n  iac:\n    mode: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--policy", "--policy-file"} {
		if out, code := run(t, "scan", "--data-dir", data, flag, pol, "../../testdata/repos/iac"); code != 0 {
			t.Errorf("%s (iac in warn mode): exit %d\n%s", flag, code, out)
		}
	}
	if out, code := run(t, "--version"); code != 0 || !strings.HasPrefix(out, "gatehouse version ") {
		t.Errorf("--version: exit %d\n%s", code, out)
	}
}

// TestScanBaseOnAShallowClone says to fetch more history, not git's words.
func TestScanBaseOnAShallowClone(t *testing.T) {
	src := t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	git(src, "init", "-q", "-b", "main")
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(src, "f.txt"), []byte{byte('a' + i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		git(src, "add", ".")
		git(src, "commit", "-q", "-m", "c")
	}
	clone := filepath.Join(t.TempDir(), "clone")
	git(".", "clone", "-q", "--depth", "1", "file://"+src, clone)
	out, code := run(t, "scan", "--data-dir", t.TempDir(), "--base", "HEAD~2", clone)
	if code != 2 || !strings.Contains(out, "fetch more history") || !strings.Contains(out, "fetch-depth: 0") {
		t.Errorf("exit %d\n%s", code, out)
	}
}
