package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

// Fixture locations, relative to this package.
const (
	fixtureDir = "../../testdata/repos/secrets"
	cleanDir   = "../../testdata/repos/clean"
	historyDir = "testdata/history"
	goldenDir  = "../../testdata/golden/gitleaks-cli"
)

// want is one expected finding.
type want struct {
	rule      string
	file      string
	startLine int
	endLine   int
	commit    string // git mode only
}

func (w want) String() string {
	s := w.rule + " " + w.file + ":" + strconv.Itoa(w.startLine) + "-" + strconv.Itoa(w.endLine)
	if w.commit != "" {
		s += fmt.Sprintf(" @%.12s", w.commit)
	}
	return s
}

func got(fs []checks.Finding) []want {
	out := make([]want, 0, len(fs))
	for _, f := range fs {
		out = append(out, want{f.RuleID, f.File, f.StartLine, f.EndLine, f.Commit})
	}
	return out
}

func gotSuppressed(ss []checks.Suppressed) []want {
	fs := make([]checks.Finding, 0, len(ss))
	for _, s := range ss {
		fs = append(fs, s.Finding)
	}
	return got(fs)
}

func sortWants(ws []want) []want {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b want) int { return strings.Compare(a.String(), b.String()) })
	return ws
}

func assertWants(t *testing.T, what string, gotW, wantW []want) {
	t.Helper()
	g, w := sortWants(gotW), sortWants(wantW)
	if !slices.Equal(g, w) {
		t.Errorf("%s:\n got  %v\n want %v", what, g, w)
	}
}

// fixtureWants are the findings the fixture tree holds (see its README).
func fixtureWants(commit string) (findings, suppressed []want) {
	return []want{
			{"aws-access-token", "config/aws.env", 2, 2, commit},
			{"github-pat", "scripts/release.sh", 4, 4, commit},
			{"private-key", "keys/deploy_key.pem", 1, 27, commit},
		}, []want{
			{"github-pat", "docs/setup.md", 5, 5, commit},
		}
}

func newScanner(t testing.TB, opts Options) *Scanner {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func run(t testing.TB, s *Scanner, target checks.Target) *checks.Result {
	t.Helper()
	res, err := s.Run(context.Background(), target)
	if err != nil {
		t.Fatalf("Run(%+v): %v", target, err)
	}
	return res
}

// secretPatterns find the planted secrets independently of gitleaks.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`AKIA[A-Z2-7]{16}`),
	regexp.MustCompile(`ghp_[0-9A-Za-z]{36}`),
	regexp.MustCompile(`(?s)-----BEGIN RSA PRIVATE KEY-----.*?-----END RSA PRIVATE KEY-----`),
}

// plantedSecrets returns every secret in the files under dirs, found by
// secretPatterns.
func plantedSecrets(t testing.TB, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, re := range secretPatterns {
				out = append(out, re.FindAllString(string(b), -1)...)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("read secrets under %s: %v", dir, err)
		}
	}
	if len(out) == 0 {
		t.Fatal("no planted secrets found: the fixtures changed")
	}
	return out
}

// secretIn returns the one planted secret in file (under dir).
func secretIn(t testing.TB, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range secretPatterns {
		if m := re.FindString(string(b)); m != "" {
			return m
		}
	}
	t.Fatalf("no planted secret in %s", file)
	return ""
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// history is the git fixture: the fixture tree imported, a secret added in
// one commit and removed in the next, then an unrelated edit.
type history struct {
	dir               string
	c1, c2, c3, c4    string
	stagingFile       string
	stagingSecretLine int
}

// buildHistory builds the git fixture in a fresh temporary repository. Its
// commit ids are the same on every run (gittest fixes authors and dates),
// which the recorded gitleaks CLI output relies on.
func buildHistory(t testing.TB) history {
	t.Helper()
	staging, err := os.ReadFile(filepath.Join(historyDir, "staging.env"))
	if err != nil {
		t.Fatal(err)
	}
	release, err := os.ReadFile(filepath.Join(fixtureDir, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	h := history{dir: gittest.New(t), stagingFile: "deploy/staging.env", stagingSecretLine: 3}
	h.c1 = gittest.CommitDir(t, h.dir, "Import the fixture tree", fixtureDir)
	h.c2 = gittest.Commit(t, h.dir, "Add staging settings", map[string]string{h.stagingFile: string(staging)})
	h.c3 = gittest.Remove(t, h.dir, "Remove staging credentials", h.stagingFile)
	h.c4 = gittest.Commit(t, h.dir, "Say when the release is out", map[string]string{
		"scripts/release.sh": string(release) + "echo \"released $1\"\n",
	})
	return h
}
