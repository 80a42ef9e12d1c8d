package secrets

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

var gitleaksCLI = flag.String("gitleaks-cli", "",
	"path to a gitleaks CLI built from go.mod's module; when set, TestRecordGitleaksCLI re-records "+goldenDir)

// cliArgs are the gitleaks CLI arguments the recorded output comes from,
// after the subcommand and its source; OUT is replaced by the report path.
var cliArgs = []string{
	"--redact", "--report-format", "json", "--report-path", "OUT",
	"--no-banner", "--exit-code", "0", "--log-level", "warn",
}

// cliRuns are the recorded CLI runs: golden file, subcommand and source.
func cliRuns(h history) []struct{ golden, dir, sub string } {
	return []struct{ golden, dir, sub string }{
		{"dir.json", fixtureDir, "dir"},
		{"git.json", h.dir, "git"},
	}
}

// cliFinding is the part of the gitleaks CLI's JSON report compared.
type cliFinding struct {
	RuleID    string
	File      string
	StartLine int
	EndLine   int
	Commit    string
	Match     string
	Secret    string
}

// TestRecordGitleaksCLI re-records the gitleaks CLI's output on the fixtures
// (only with -gitleaks-cli; the CLI is never needed otherwise).
func TestRecordGitleaksCLI(t *testing.T) {
	if *gitleaksCLI == "" {
		t.Skip("set -gitleaks-cli=PATH to re-record the gitleaks CLI output")
	}
	cli, err := filepath.Abs(*gitleaksCLI)
	if err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command(cli, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", cli, err)
	}
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := buildHistory(t)
	var commands []string
	for _, r := range cliRuns(h) {
		dir, err := filepath.Abs(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		out, err := filepath.Abs(filepath.Join(goldenDir, r.golden))
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{r.sub, "."}, cliArgs...)
		shown := strings.Join(args, " ")
		for i, a := range args {
			if a == "OUT" {
				args[i] = out
				shown = strings.Replace(shown, "OUT", r.golden, 1)
			}
		}
		cmd := exec.Command(cli, args...)
		cmd.Dir = dir
		cmd.Env = gittest.Env()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("gitleaks %s: %v\n%s", shown, err, stderr.String())
		}
		commands = append(commands, fmt.Sprintf("- `%s`: `gitleaks %s`, run in %s", r.golden, shown, where(r.golden)))
	}
	readme := fmt.Sprintf(`# gitleaks CLI output on the secrets fixtures

Recorded by TestRecordGitleaksCLI (checks/secrets/cli_test.go) with a gitleaks
CLI built from the module in go.mod (%s; its version command prints %q).
TestAgreesWithGitleaksCLI compares the library scan with these files; it
does not need the CLI.

%s

The git runs use internal/gittest's environment (no user or system git
configuration), and the repository's commit ids are the same on every run.

To re-record, from the repository root:

    GOEXPERIMENT=jsonv2 go build -o /tmp/gitleaks github.com/zricethezav/gitleaks/v8
    GOEXPERIMENT=jsonv2 go test ./checks/secrets -run TestRecordGitleaksCLI -gitleaks-cli=/tmp/gitleaks
`, gitleaksModule+" "+gitleaksVersion, strings.TrimSpace(string(version)), strings.Join(commands, "\n"))
	if err := os.WriteFile(filepath.Join(goldenDir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
}

func where(golden string) string {
	if golden == "git.json" {
		return "the repository that buildHistory (checks/secrets/helpers_test.go) makes:\n  the fixture tree imported, deploy/staging.env added, then removed, then an edit"
	}
	return "`testdata/repos/secrets`"
}

// TestAgreesWithGitleaksCLI checks that the library scan reports what the
// gitleaks CLI reported on the same input: the same rules, files, lines,
// commits and redacted matches.
func TestAgreesWithGitleaksCLI(t *testing.T) {
	s := newScanner(t, Options{})
	h := buildHistory(t)
	planted := plantedSecrets(t, fixtureDir, historyDir)
	targets := map[string]checks.Target{
		"dir.json": {Dir: fixtureDir},
		"git.json": {Dir: h.dir, HeadRev: "HEAD"},
	}
	for _, r := range cliRuns(h) {
		t.Run(r.golden, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(goldenDir, r.golden))
			if err != nil {
				t.Fatal(err)
			}
			if l := leaks(b, planted); len(l) > 0 {
				t.Fatalf("%s holds %d unredacted secret(s)", r.golden, len(l))
			}
			var cli []cliFinding
			if err := json.Unmarshal(b, &cli); err != nil {
				t.Fatalf("parse %s: %v", r.golden, err)
			}
			if len(cli) == 0 {
				t.Fatalf("%s lists no findings", r.golden)
			}
			res := run(t, s, targets[r.golden])
			var want []want
			matches := map[string]string{}
			for _, c := range cli {
				w := wantFromCLI(c)
				want = append(want, w)
				matches[w.String()] = c.Match
			}
			assertWants(t, "library vs CLI (re-record with -gitleaks-cli if the fixtures changed)", got(res.Findings), want)
			for _, f := range res.Findings {
				w := got([]checks.Finding{f})[0]
				if m, ok := matches[w.String()]; ok && m != f.Match {
					t.Errorf("%s: match %q, the CLI's %q", w, f.Match, m)
				}
			}
		})
	}
}

func wantFromCLI(c cliFinding) want {
	return want{c.RuleID, c.File, c.StartLine, c.EndLine, c.Commit}
}
