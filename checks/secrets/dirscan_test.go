package secrets

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

func TestEngine(t *testing.T) {
	a := newScanner(t, Options{})
	b := newScanner(t, Options{MaxTargetMegaBytes: 1})
	if a.Name() != checks.Secrets {
		t.Errorf("Name() = %q, want %q", a.Name(), checks.Secrets)
	}
	e := a.Engine()
	if e.Name != "gitleaks" || e.Version != "v8.30.1" {
		t.Errorf("Engine() = %+v, want gitleaks v8.30.1", e)
	}
	if _, err := hex.DecodeString(e.DataVersion); err != nil || len(e.DataVersion) != 12 {
		t.Errorf("DataVersion = %q, want 12 hex digits", e.DataVersion)
	}
	if a.rules != b.rules {
		t.Error("two scanners compiled the rules twice; want one rule set per process")
	}
	if a.rules.cfg.Path != "" {
		t.Errorf("rules Path = %q, want empty (no config file)", a.rules.cfg.Path)
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	dep := func(v string, repl *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Deps: []*debug.Module{
			{Path: "github.com/spf13/viper", Version: "v1.21.0"},
			{Path: gitleaksModule, Version: v, Replace: repl},
		}}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, gitleaksVersion},
		{"no dependencies (test binary)", &debug.BuildInfo{}, gitleaksVersion},
		{"module version", dep("v8.31.0", nil), "v8.31.0"},
		{"replaced", dep("v8.30.1", &debug.Module{Path: "example.com/fork", Version: "v8.30.1-fix"}), "v8.30.1-fix"},
		{"replaced by a directory", dep("v8.30.1", &debug.Module{Path: "../gitleaks"}), "v8.30.1"},
		{"devel", dep("(devel)", nil), gitleaksVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionFromBuildInfo(tt.bi); got != tt.want {
				t.Errorf("versionFromBuildInfo = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScanDirFixture(t *testing.T) {
	s := newScanner(t, Options{})
	res := run(t, s, checks.Target{Dir: fixtureDir})

	wantF, wantS := fixtureWants("")
	assertWants(t, "findings", got(res.Findings), wantF)
	assertWants(t, "suppressed", gotSuppressed(res.Suppressed), wantS)

	for _, f := range res.Findings {
		rule, ok := s.rules.cfg.Rules[f.RuleID]
		if !ok {
			t.Fatalf("finding with unknown rule %q", f.RuleID)
		}
		if f.Check != checks.Secrets || f.Severity != checks.SeverityHigh || f.Title != rule.Description {
			t.Errorf("%s: check %q severity %v title %q; want secrets, high, the rule's description", f.Location(), f.Check, f.Severity, f.Title)
		}
		secret := secretIn(t, fixtureDir, f.File)
		if want := checks.Fingerprint(checks.Secrets, f.RuleID, f.File, sha256Hex(secret)); f.Fingerprint != want {
			t.Errorf("%s: fingerprint %s, want %s (sha256 of the secret)", f.Location(), f.Fingerprint, want)
		}
		if !strings.Contains(f.Match, "REDACTED") {
			t.Errorf("%s: match %q is not redacted", f.Location(), f.Match)
		}
		if f.Commit != "" {
			t.Errorf("%s: commit %q in dir mode", f.Location(), f.Commit)
		}
		for _, w := range []string{"rotate", "history"} {
			if !strings.Contains(f.Remediation.Text, w) {
				t.Errorf("%s: remediation %q does not mention %q", f.Location(), f.Remediation.Text, w)
			}
		}
	}
	if len(res.Suppressed) == 1 && !strings.Contains(res.Suppressed[0].Reason, "gitleaks:allow") {
		t.Errorf("suppressed reason %q does not name gitleaks:allow", res.Suppressed[0].Reason)
	}

	// Scope: every non-empty file of the fixture is text and none is
	// allowlisted, so all are read, whole.
	var files int
	var size int64
	err := filepath.WalkDir(fixtureDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Size() > 0 {
			files++
			size += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scope.Files != files || res.Scope.Bytes != size || res.Scope.Commits != 0 || len(res.Scope.Skipped) != 0 {
		t.Errorf("scope = %+v, want %d files, %d bytes, no commits, nothing skipped", res.Scope, files, size)
	}
	if res.Check != checks.Secrets || res.Engine != s.Engine() {
		t.Errorf("result check %q engine %+v", res.Check, res.Engine)
	}
}

func TestScanDirClean(t *testing.T) {
	res := run(t, newScanner(t, Options{}), checks.Target{Dir: cleanDir})
	if len(res.Findings) != 0 || len(res.Suppressed) != 0 {
		t.Errorf("clean repo: findings %v suppressed %v, want none", got(res.Findings), gotSuppressed(res.Suppressed))
	}
	// go.mod is on gitleaks' path allowlist; README.md and main.go are read.
	if res.Scope.Files != 2 {
		t.Errorf("clean repo: scanned %d files, want 2", res.Scope.Files)
	}
	if !slices.ContainsFunc(res.Scope.Notes, func(n string) bool { return strings.Contains(n, "allowlist") }) {
		t.Errorf("clean repo: notes %q do not mention the allowlisted go.mod", res.Scope.Notes)
	}
}

func TestScanDirPaths(t *testing.T) {
	s := newScanner(t, Options{})
	all, _ := fixtureWants("")
	tests := []struct {
		name  string
		paths []string
		want  []want
		note  string
	}{
		{"directory and file", []string{"config", "./keys/deploy_key.pem"}, []want{all[0], all[2]}, ""},
		{"whole tree", []string{"."}, all, ""},
		{"overlapping", []string{"scripts", "scripts/release.sh"}, []want{all[1]}, ""},
		{"missing path", []string{"nope", "config/aws.env"}, []want{all[0]}, "nope does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, s, checks.Target{Dir: fixtureDir, Paths: tt.paths})
			assertWants(t, "findings", got(res.Findings), tt.want)
			if tt.note != "" && !slices.ContainsFunc(res.Scope.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("notes %q, want one containing %q", res.Scope.Notes, tt.note)
			}
		})
	}
	for _, bad := range []string{"../secrets", "/etc", "a/../../b"} {
		if _, err := s.Run(context.Background(), checks.Target{Dir: fixtureDir, Paths: []string{bad}}); err == nil {
			t.Errorf("Paths %q: no error, want one (outside the target)", bad)
		}
	}
}

// copyFixture copies the fixture tree into a fresh directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gittest.CopyTree(t, fixtureDir, dir)
	return dir
}

func TestSymlinksNotFollowed(t *testing.T) {
	release, err := os.ReadFile(filepath.Join(fixtureDir, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	gittest.WriteFiles(t, outside, map[string]string{"secret.sh": string(release)})
	s := newScanner(t, Options{})

	// The control: the file outside does hold a secret gitleaks finds.
	if res := run(t, s, checks.Target{Dir: outside}); len(res.Findings) != 1 {
		t.Fatalf("control scan of the outside dir: %d findings, want 1", len(res.Findings))
	}

	dir := t.TempDir()
	gittest.WriteFiles(t, dir, map[string]string{"ok.txt": "nothing here\n"})
	for link, target := range map[string]string{
		"link.sh": filepath.Join(outside, "secret.sh"),
		"linkdir": outside,
		"rel.sh":  "../" + filepath.Base(outside) + "/secret.sh",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		paths       []string
		wantSkipped []string
	}{
		{"whole tree", nil, []string{"link.sh", "linkdir", "rel.sh"}},
		{"symlink named in paths", []string{"link.sh"}, []string{"link.sh"}},
		{"path through a symlinked dir", []string{"linkdir/secret.sh"}, []string{"linkdir/secret.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, s, checks.Target{Dir: dir, Paths: tt.paths})
			if len(res.Findings) != 0 {
				t.Errorf("findings %v: a symlink out of the target was followed", got(res.Findings))
			}
			var skipped []string
			for _, sk := range res.Scope.Skipped {
				if !strings.Contains(sk.Reason, "symlink") {
					t.Errorf("skipped %s: reason %q does not say symlink", sk.Path, sk.Reason)
				}
				skipped = append(skipped, sk.Path)
			}
			if !slices.Equal(skipped, tt.wantSkipped) {
				t.Errorf("skipped %q, want %q", skipped, tt.wantSkipped)
			}
		})
	}
}

func TestLargeFilesSkipped(t *testing.T) {
	release, err := os.ReadFile(filepath.Join(fixtureDir, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("just some text that is not secret at all\n", 40_000) // 1.68 MB
	dir := t.TempDir()
	gittest.WriteFiles(t, dir, map[string]string{
		"big.sh":   filler + string(release),
		"small.sh": string(release),
	})
	// One byte over the default limit: skipped before it is read.
	huge, err := os.Create(filepath.Join(dir, "huge.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if err := huge.Truncate(DefaultMaxTargetMegaBytes*1_000_000 + 1); err != nil {
		t.Fatal(err)
	}
	huge.Close()

	tests := []struct {
		name        string
		maxMB       int
		wantFiles   []string
		wantSkipped []string
	}{
		{"default limit", 0, []string{"big.sh", "small.sh"}, []string{"huge.dat"}},
		{"1 MB limit", 1, []string{"small.sh"}, []string{"big.sh", "huge.dat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, newScanner(t, Options{MaxTargetMegaBytes: tt.maxMB}), checks.Target{Dir: dir})
			var files, skipped []string
			for _, f := range res.Findings {
				files = append(files, f.File)
			}
			for _, sk := range res.Scope.Skipped {
				if !strings.Contains(sk.Reason, "larger than") {
					t.Errorf("skipped %s: reason %q", sk.Path, sk.Reason)
				}
				skipped = append(skipped, sk.Path)
			}
			if !slices.Equal(files, tt.wantFiles) || !slices.Equal(skipped, tt.wantSkipped) {
				t.Errorf("findings in %q skipped %q; want findings in %q skipped %q", files, skipped, tt.wantFiles, tt.wantSkipped)
			}
		})
	}
}

func TestGitleaksIgnoreDir(t *testing.T) {
	dir := copyFixture(t)
	gittest.WriteFiles(t, dir, map[string]string{
		checks.GitleaksIgnore: "# reviewed: a revoked test key\nconfig/aws.env:aws-access-token:2\n\nkeys/deploy_key.pem:private-key:99\n",
	})
	res := run(t, newScanner(t, Options{}), checks.Target{Dir: dir, Ignore: readIgnores(t, dir)})
	all, allowed := fixtureWants("")
	assertWants(t, "findings", got(res.Findings), all[1:])
	assertWants(t, "suppressed", gotSuppressed(res.Suppressed), append(allowed, all[0]))
	for _, s := range res.Suppressed {
		if s.Finding.File == "config/aws.env" && (!strings.Contains(s.Reason, ".gitleaksignore") || s.Via != checks.ViaIgnoreFile || s.FromChange) {
			t.Errorf("%+v: want an in-force .gitleaksignore suppression", s)
		}
	}

	// The ignore file is what the target carries, never the checkout's:
	// without it nothing is suppressed but by gitleaks:allow.
	res = run(t, newScanner(t, Options{}), checks.Target{Dir: dir})
	assertWants(t, "findings without the target's ignore file", got(res.Findings), all)

	// The change's version suppresses too, marked as from the change.
	change := []checks.IgnoreFile{{Name: checks.GitleaksIgnore, Content: []byte("config/aws.env:aws-access-token:2\n"), FromChange: true}}
	res = run(t, newScanner(t, Options{}), checks.Target{Dir: dir, Ignore: change})
	assertWants(t, "findings with the change's ignore file", got(res.Findings), all[1:])
	for _, s := range res.Suppressed {
		if s.Finding.File == "config/aws.env" && (!s.FromChange || !strings.Contains(s.Reason, "as this change edits it")) {
			t.Errorf("%+v: want a suppression from the change", s)
		}
		if s.Via == checks.ViaInline && s.FromChange {
			t.Errorf("%+v: the engine cannot know whether an inline marker is new", s)
		}
	}

	// A .gitleaksignore that is a symlink is not read.
	linked := copyFixture(t)
	if err := os.Symlink(filepath.Join(dir, checks.GitleaksIgnore), filepath.Join(linked, checks.GitleaksIgnore)); err != nil {
		t.Fatal(err)
	}
	files, skips, err := checks.ReadIgnoreFiles(linked)
	if err != nil || len(files) != 0 || len(skips) != 1 || skips[0].Path != checks.GitleaksIgnore {
		t.Errorf("ReadIgnoreFiles with a symlinked .gitleaksignore = %v, %v, %v; want it skipped", files, skips, err)
	}
}

// readIgnores reads dir's ignore files as a plain directory scan does.
func readIgnores(t *testing.T, dir string) []checks.IgnoreFile {
	t.Helper()
	files, _, err := checks.ReadIgnoreFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestScanDirCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newScanner(t, Options{}).Run(ctx, checks.Target{Dir: fixtureDir})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	s := newScanner(t, Options{})
	want := run(t, s, checks.Target{Dir: fixtureDir})
	var wg sync.WaitGroup
	results := make([]*checks.Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = s.Run(context.Background(), checks.Target{Dir: fixtureDir}) })
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		if !slices.Equal(got(r.Findings), got(want.Findings)) || r.Scope.Bytes != want.Scope.Bytes {
			t.Errorf("run %d differs: %v", i, got(r.Findings))
		}
	}
}
