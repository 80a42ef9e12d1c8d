package deps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// want is one expected finding in the fixture repository.
type want struct {
	file       string
	line, end  int
	rule, pkg  string
	installed  string
	fixed      string
	severity   checks.Severity
	title, url string
}

// fixtureFindings are the findings testdata/repos/deps must produce against
// the fixture DB (testdata/trivydb).
var fixtureFindings = []want{
	{file: "go.mod", rule: "CVE-2021-38561", pkg: "golang.org/x/text", installed: "v0.3.6", fixed: "0.3.7",
		severity: checks.SeverityHigh, title: "golang: out-of-bounds read in golang.org/x/text/language leads to DoS",
		url: "https://avd.aquasec.com/nvd/cve-2021-38561"},
	{file: "go.mod", rule: "CVE-2022-32149", pkg: "golang.org/x/text", installed: "v0.3.6", fixed: "0.3.8",
		severity: checks.SeverityHigh, url: "https://avd.aquasec.com/nvd/cve-2022-32149"},
	{file: "package-lock.json", line: 16, end: 20, rule: "CVE-2019-10744", pkg: "lodash", installed: "4.17.11", fixed: "4.17.12",
		severity: checks.SeverityCritical, url: "https://avd.aquasec.com/nvd/cve-2019-10744"},
	{file: "package-lock.json", line: 16, end: 20, rule: "GHSA-fxtr-unfx-0001", pkg: "lodash", installed: "4.17.11",
		severity: checks.SeverityLow, url: "https://github.com/advisories/GHSA-fxtr-unfx-0001"},
	{file: "package-lock.json", line: 21, end: 25, rule: "GHSA-xvch-5gv4-984h", pkg: "minimist", installed: "1.2.5", fixed: "1.2.6, 0.2.4",
		severity: checks.SeverityCritical, title: "Prototype Pollution in minimist"},
	{file: "requirements.txt", line: 3, end: 3, rule: "CVE-2019-14806", pkg: "Werkzeug", installed: "0.15.2", fixed: "0.15.3",
		severity: checks.SeverityHigh},
	// No details in the DB: trivy's UNKNOWN severity, the fallback title.
	{file: "requirements.txt", line: 3, end: 3, rule: "CVE-2023-25577", pkg: "Werkzeug", installed: "0.15.2", fixed: "2.2.3",
		severity: checks.SeverityInfo, title: "Werkzeug@0.15.2: CVE-2023-25577"},
}

func TestRunFixtureRepo(t *testing.T) {
	s, _ := newFixtureScanner(t)
	res := run(t, s, checks.Target{Dir: depsRepo})

	if res.Check != checks.Dependencies || res.Engine.Name != "trivy" {
		t.Errorf("result names %q/%q, want dependencies/trivy", res.Check, res.Engine.Name)
	}
	if res.Engine.DataVersion != "v2@2030-01-01T00:00:00Z" {
		t.Errorf("DataVersion = %q, want the fixture metadata's", res.Engine.DataVersion)
	}
	if len(res.Findings) != len(fixtureFindings) {
		for _, f := range res.Findings {
			t.Logf("got %s %s %s@%s", f.Location(), f.RuleID, f.Remediation.Package, f.Remediation.InstalledVersion)
		}
		t.Fatalf("%d findings, want %d", len(res.Findings), len(fixtureFindings))
	}
	for i, w := range fixtureFindings {
		t.Run(w.rule+"/"+w.file, func(t *testing.T) {
			f := res.Findings[i]
			checkFinding(t, f, w)
		})
	}
}

func checkFinding(t *testing.T, f checks.Finding, w want) {
	t.Helper()
	got := fmt.Sprintf("%s %s:%d-%d %s@%s fixed=%q %s", f.RuleID, f.File, f.StartLine, f.EndLine,
		f.Remediation.Package, f.Remediation.InstalledVersion, f.Remediation.FixedVersion, f.Severity)
	exp := fmt.Sprintf("%s %s:%d-%d %s@%s fixed=%q %s", w.rule, w.file, w.line, w.end,
		w.pkg, w.installed, w.fixed, w.severity)
	if got != exp {
		t.Errorf("finding\n got %s\nwant %s", got, exp)
	}
	if f.Check != checks.Dependencies {
		t.Errorf("Check = %q", f.Check)
	}
	if w.title != "" && f.Title != w.title {
		t.Errorf("Title = %q, want %q", f.Title, w.title)
	}
	if f.Title == "" {
		t.Error("empty Title")
	}
	if w.url != "" && f.Remediation.URL != w.url {
		t.Errorf("URL = %q, want %q", f.Remediation.URL, w.url)
	}
	wantFP := checks.Fingerprint(checks.Dependencies, w.rule, w.file, w.pkg+"@"+w.installed)
	if f.Fingerprint != wantFP {
		t.Errorf("Fingerprint = %s, want %s", f.Fingerprint, wantFP)
	}
	wantText := "upgrade " + w.pkg + " to " + w.fixed
	if w.fixed == "" {
		wantText = "no fixed version of " + w.pkg
	}
	if !strings.HasPrefix(f.Remediation.Text, wantText) {
		t.Errorf("Remediation.Text = %q, want it to start with %q", f.Remediation.Text, wantText)
	}
	if !strings.Contains(f.Message, w.rule) || !strings.Contains(f.Message, w.installed) {
		t.Errorf("Message %q does not name %s and %s", f.Message, w.rule, w.installed)
	}
}

func TestRunTrivyIgnore(t *testing.T) {
	repo := t.TempDir()
	for _, name := range []string{"package-lock.json", "requirements.txt"} {
		copyFile(t, filepath.Join(depsRepo, name), filepath.Join(repo, name))
	}
	ignore := "# accepted until the upgrade\nCVE-2019-10744\nCVE-2019-14806 exp:2000-01-01\n"
	if err := os.WriteFile(filepath.Join(repo, ".trivyignore"), []byte(ignore), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := newFixtureScanner(t)
	ign, _, err := checks.ReadIgnoreFiles(repo)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, s, checks.Target{Dir: repo, Ignore: ign})

	if len(res.Suppressed) != 1 || res.Suppressed[0].Finding.RuleID != "CVE-2019-10744" {
		t.Fatalf("Suppressed = %+v, want CVE-2019-10744 only", res.Suppressed)
	}
	if sup := res.Suppressed[0]; sup.Finding.StartLine != 16 || !strings.Contains(sup.Reason, ".trivyignore") {
		t.Errorf("suppressed finding %+v", sup)
	}
	var rules []string
	for _, f := range res.Findings {
		rules = append(rules, f.RuleID)
	}
	// The expired entry no longer applies.
	if slices.Contains(rules, "CVE-2019-10744") || !slices.Contains(rules, "CVE-2019-14806") {
		t.Errorf("findings %v: want CVE-2019-10744 suppressed, expired CVE-2019-14806 reported", rules)
	}
}

func TestRunWithoutDB(t *testing.T) {
	dbDir := filepath.Join(t.TempDir(), "db")
	s := openScanner(t, dbDir)
	if dv := s.Engine().DataVersion; dv != "" {
		t.Errorf("DataVersion without a DB = %q", dv)
	}
	res, err := s.Run(context.Background(), checks.Target{Dir: depsRepo})
	if !errors.Is(err, ErrNoDB) || res != nil {
		t.Fatalf("Run without DB = %v, %v; want ErrNoDB", res, err)
	}
	for _, want := range []string{"lockfiles or manifests to match", "`gatehouse db update`", "`gatehouse db import FILE`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Nothing to match needs no DB: the check passes and says why.
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "README.md"), []byte("# no dependencies\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = s.Run(context.Background(), checks.Target{Dir: empty})
	if err != nil {
		t.Fatalf("a tree without manifests, no DB: %v", err)
	}
	if len(res.Findings) != 0 || !slices.Contains(res.Scope.Notes, "no lockfiles or manifests found") {
		t.Errorf("a tree without manifests, no DB: %+v", res)
	}
	// Installing a DB later is picked up without a reload.
	importFixture(t, dbDir)
	if res := run(t, s, checks.Target{Dir: depsRepo}); len(res.Findings) != len(fixtureFindings) {
		t.Errorf("after import: %d findings, want %d", len(res.Findings), len(fixtureFindings))
	}
}

func TestTwoScansOnOneScanner(t *testing.T) {
	s, _ := newFixtureScanner(t)
	first := run(t, s, checks.Target{Dir: depsRepo})
	second := run(t, s, checks.Target{Dir: depsRepo})
	if !slices.EqualFunc(first.Findings, second.Findings, func(a, b checks.Finding) bool { return a == b }) {
		t.Errorf("second scan differs:\n%+v\n%+v", first.Findings, second.Findings)
	}
	if len(second.Findings) != len(fixtureFindings) {
		t.Errorf("second scan: %d findings", len(second.Findings))
	}
}

func TestSecondScannerOtherDir(t *testing.T) {
	_, dbDir := newFixtureScanner(t)
	if _, err := New(Options{DBDir: dbDir + "-other"}); !errors.Is(err, ErrDBInUse) {
		t.Errorf("New on another dir while one is open: %v, want ErrDBInUse", err)
	}
	same := openScanner(t, dbDir)
	if same.Engine().DataVersion == "" {
		t.Error("a second Scanner on the same dir sees no DB")
	}
}

func newScannerWithDB(t testing.TB, dbDir string, opts Options) *Scanner {
	t.Helper()
	importFixture(t, dbDir)
	opts.DBDir = dbDir
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResultGolden pins the text users read (titles, messages,
// remediation, notes) for the fixture repository.
func TestResultGolden(t *testing.T) {
	s, _ := newFixtureScanner(t)
	res := run(t, s, checks.Target{Dir: depsRepo})
	got, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "golden", "fixture-result.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./checks/deps -run TestResultGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s (rerun with -update if intended):\n%s", golden, got)
	}
}

// TestConcurrentRunsAndReload scans from several goroutines while the DB
// is reloaded (run with -race).
func TestConcurrentRunsAndReload(t *testing.T) {
	s, _ := newFixtureScanner(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 4 {
		wg.Go(func() {
			for range 3 {
				res, err := s.Run(context.Background(), checks.Target{Dir: depsRepo})
				if err != nil {
					errs <- err
					return
				}
				if len(res.Findings) != len(fixtureFindings) {
					errs <- fmt.Errorf("%d findings", len(res.Findings))
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if err := s.Reload(); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRunAfterClose(t *testing.T) {
	s, _ := newFixtureScanner(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), checks.Target{Dir: depsRepo}); err == nil {
		t.Error("Run after Close: no error")
	}
}
