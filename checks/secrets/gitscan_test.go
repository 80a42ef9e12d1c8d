package secrets

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

func TestScanGitRange(t *testing.T) {
	h := buildHistory(t)
	s := newScanner(t, Options{})
	fixtureF, fixtureS := fixtureWants(h.c1)
	staging := want{"aws-access-token", h.stagingFile, h.stagingSecretLine, h.stagingSecretLine, h.c2}

	tests := []struct {
		name           string
		base, head     string
		paths          []string
		wantFindings   []want
		wantSuppressed []want
		wantCommits    int
	}{
		{"all history", "", "HEAD", nil, append(slices.Clone(fixtureF), staging), fixtureS, 4},
		{"added then removed", h.c1, h.c4, nil, []want{staging}, nil, 3},
		{"only the commit that adds it", h.c1, h.c2, nil, []want{staging}, nil, 1},
		{"after the removal", h.c3, "main", nil, nil, nil, 1},
		{"paths filter", "", h.c4, []string{"deploy"}, []want{staging}, nil, 4},
		{"root commit only", "", h.c1, nil, fixtureF, fixtureS, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, s, checks.Target{Dir: h.dir, BaseRev: tt.base, HeadRev: tt.head, Paths: tt.paths})
			assertWants(t, "findings", got(res.Findings), tt.wantFindings)
			assertWants(t, "suppressed", gotSuppressed(res.Suppressed), tt.wantSuppressed)
			if res.Scope.Commits != tt.wantCommits {
				t.Errorf("scope commits = %d, want %d", res.Scope.Commits, tt.wantCommits)
			}
			if len(tt.wantFindings) > 0 && (res.Scope.Files == 0 || res.Scope.Bytes == 0) {
				t.Errorf("scope = %+v, want files and bytes counted", res.Scope)
			}
			for _, f := range res.Findings {
				src, name := fixtureDir, f.File
				if f.File == h.stagingFile {
					src, name = historyDir, "staging.env"
				}
				secret := secretIn(t, src, name)
				if want := checks.Fingerprint(checks.Secrets, f.RuleID, f.File, sha256Hex(secret)); f.Fingerprint != want {
					t.Errorf("%s: fingerprint %s, want %s", f.Location(), f.Fingerprint, want)
				}
				if !strings.Contains(f.Message, f.Commit[:12]) {
					t.Errorf("%s: message %q does not name the commit", f.Location(), f.Message)
				}
			}
		})
	}

	// The final tree no longer holds the staging secret: only history does.
	res := run(t, s, checks.Target{Dir: h.dir})
	finalTree, _ := fixtureWants("")
	assertWants(t, "dir mode on the final tree", got(res.Findings), finalTree)
}

func TestScanGitFingerprintStable(t *testing.T) {
	// The same secret keeps its fingerprint when it moves to another line
	// in a later commit (and the commit differs).
	h := buildHistory(t)
	staging, err := os.ReadFile(filepath.Join(historyDir, "staging.env"))
	if err != nil {
		t.Fatal(err)
	}
	c5 := gittest.Commit(t, h.dir, "Bring the staging settings back", map[string]string{
		h.stagingFile: "# moved down\n\n" + string(staging),
	})
	res := run(t, newScanner(t, Options{}), checks.Target{Dir: h.dir, BaseRev: h.c1, HeadRev: c5})
	if len(res.Findings) != 2 {
		t.Fatalf("findings %v, want the staging secret twice", got(res.Findings))
	}
	a, b := res.Findings[0], res.Findings[1]
	if a.StartLine == b.StartLine || a.Commit == b.Commit || a.Fingerprint != b.Fingerprint {
		t.Errorf("want different lines and commits, one fingerprint; got %v, fingerprints %s / %s", got(res.Findings), a.Fingerprint, b.Fingerprint)
	}
}

func TestGitleaksIgnoreGit(t *testing.T) {
	h := buildHistory(t)
	// Fingerprints in gitleaks' two forms: commit:file:rule:line for one
	// commit, file:rule:line for every commit.
	gittest.Commit(t, h.dir, "Ignore reviewed findings", map[string]string{
		checks.GitleaksIgnore: h.c2 + ":" + h.stagingFile + ":aws-access-token:3\nkeys/deploy_key.pem:private-key:1\n",
	})
	res := run(t, newScanner(t, Options{}), checks.Target{Dir: h.dir, HeadRev: "HEAD", Ignore: readIgnores(t, h.dir)})
	fixtureF, fixtureS := fixtureWants(h.c1)
	staging := want{"aws-access-token", h.stagingFile, 3, 3, h.c2}
	assertWants(t, "findings", got(res.Findings), fixtureF[:2])
	assertWants(t, "suppressed", gotSuppressed(res.Suppressed), append(fixtureS, staging, fixtureF[2]))
	for _, s := range res.Suppressed {
		if s.Finding.File != "docs/setup.md" && !strings.Contains(s.Reason, ".gitleaksignore") {
			t.Errorf("%s: reason %q", s.Finding.Location(), s.Reason)
		}
	}
}

func TestScanGitLargeAddition(t *testing.T) {
	dir := gittest.New(t)
	release, err := os.ReadFile(filepath.Join(fixtureDir, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	big := gittest.Commit(t, dir, "Add a big script", map[string]string{
		"big.sh": strings.Repeat("echo this is only filler text\n", 40_000) + string(release),
	})
	small := gittest.Commit(t, dir, "Add a small script", map[string]string{"small.sh": string(release)})
	res := run(t, newScanner(t, Options{MaxTargetMegaBytes: 1}), checks.Target{Dir: dir, HeadRev: "HEAD"})
	assertWants(t, "findings", got(res.Findings), []want{{"github-pat", "small.sh", 4, 4, small}})
	if len(res.Scope.Skipped) != 1 || res.Scope.Skipped[0].Path != "big.sh" || !strings.Contains(res.Scope.Skipped[0].Reason, big[:12]) {
		t.Errorf("skipped %+v, want big.sh in commit %.12s", res.Scope.Skipped, big)
	}
}

func TestScanGitErrors(t *testing.T) {
	h := buildHistory(t)
	notRepo := t.TempDir()
	s := newScanner(t, Options{})
	tests := []struct {
		name   string
		target checks.Target
		want   string
	}{
		{"option as head", checks.Target{Dir: h.dir, HeadRev: "--output=" + filepath.Join(notRepo, "x")}, "invalid revision"},
		{"option as base", checks.Target{Dir: h.dir, BaseRev: "--all", HeadRev: "HEAD"}, "invalid revision"},
		{"unknown head", checks.Target{Dir: h.dir, HeadRev: "no-such-branch"}, "not a commit"},
		{"space in revision", checks.Target{Dir: h.dir, HeadRev: "HEAD --all"}, "invalid revision"},
		{"base without head", checks.Target{Dir: h.dir, BaseRev: "HEAD"}, "without a head"},
		{"not a repository", checks.Target{Dir: notRepo, HeadRev: "HEAD"}, "not a git work tree"},
		{"subdirectory", checks.Target{Dir: filepath.Join(h.dir, "config"), HeadRev: "HEAD"}, "not the top"},
		{"no directory", checks.Target{HeadRev: "HEAD"}, "no directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), tt.target)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(notRepo, "x")); err == nil {
		t.Error("a revision was passed to git as an option")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, checks.Target{Dir: h.dir, HeadRev: "HEAD"}); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestCommitsAddingText checks the list the scan compares gitleaks' coverage
// with: commits that only delete, or add nothing under the paths, are not in
// it.
func TestCommitsAddingText(t *testing.T) {
	h := buildHistory(t)
	tests := []struct {
		name  string
		revs  []string
		paths []string
		want  []string
	}{
		{"all history", []string{h.c4}, []string{"."}, []string{h.c1, h.c2, h.c4}},
		{"a range", []string{h.c4, "^" + h.c1}, []string{"."}, []string{h.c2, h.c4}},
		{"deletion only", []string{h.c3, "^" + h.c2}, []string{"."}, nil},
		{"one directory", []string{h.c4}, []string{"deploy"}, []string{h.c2}},
		{"one file", []string{h.c4}, []string{"scripts/release.sh"}, []string{h.c1, h.c4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := commitsAddingText(context.Background(), h.dir, tt.revs, tt.paths)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for id := range set {
				gotIDs = append(gotIDs, id)
			}
			slices.Sort(gotIDs)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(gotIDs, want) {
				t.Errorf("commits = %v, want %v", gotIDs, want)
			}
		})
	}
}
