package deps

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

func TestRunScope(t *testing.T) {
	s, _ := newFixtureScanner(t)
	noLockfiles := t.TempDir()
	if err := os.WriteFile(filepath.Join(noLockfiles, "README.md"), []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		target   checks.Target
		inputs   []string
		note     string
		findings int
	}{
		{"fixture", checks.Target{Dir: depsRepo},
			[]string{"go.mod", "package-lock.json", "package.json", "requirements.txt"}, "8 packages in 3 lockfiles", 7},
		{"clean repository", checks.Target{Dir: cleanRepo}, []string{"go.mod"}, "1 package in 1 lockfile", 0},
		{"no lockfiles", checks.Target{Dir: noLockfiles}, nil, "no lockfiles or manifests found", 0},
		{"paths: one file", checks.Target{Dir: depsRepo, Paths: []string{"requirements.txt"}},
			[]string{"requirements.txt"}, "2 packages in 1 lockfile", 2},
		{"paths: nested and missing", checks.Target{Dir: depsRepo, Paths: []string{".", "./go.mod", "gone.lock"}},
			[]string{"go.mod", "package-lock.json", "package.json", "requirements.txt"}, "8 packages in 3 lockfiles", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, s, tt.target)
			if len(res.Findings) != tt.findings {
				t.Errorf("%d findings, want %d", len(res.Findings), tt.findings)
			}
			if !slices.Equal(res.Scope.Inputs, tt.inputs) {
				t.Errorf("Inputs = %q, want %q", res.Scope.Inputs, tt.inputs)
			}
			if res.Scope.Files != len(tt.inputs) {
				t.Errorf("Files = %d, want %d", res.Scope.Files, len(tt.inputs))
			}
			var size int64
			for _, in := range tt.inputs {
				st, err := os.Stat(filepath.Join(tt.target.Dir, in))
				if err != nil {
					t.Fatal(err)
				}
				size += st.Size()
			}
			if res.Scope.Bytes != size {
				t.Errorf("Bytes = %d, want %d", res.Scope.Bytes, size)
			}
			if !slices.Contains(res.Scope.Notes, tt.note) {
				t.Errorf("Notes = %q, want %q among them", res.Scope.Notes, tt.note)
			}
			for _, p := range tt.target.Paths {
				if _, err := os.Stat(filepath.Join(tt.target.Dir, p)); err == nil {
					continue
				}
				if !slices.Contains(res.Scope.Skipped, checks.Skip{Path: p, Reason: "does not exist"}) {
					t.Errorf("Skipped = %+v, want %s as missing", res.Scope.Skipped, p)
				}
			}
		})
	}
}

func TestRunRefusesPathsOutsideTarget(t *testing.T) {
	s, _ := newFixtureScanner(t)
	for _, p := range []string{"../deps", "/etc", "a/../../b", ""} {
		_, err := s.Run(context.Background(), checks.Target{Dir: depsRepo, Paths: []string{p}})
		if err == nil {
			t.Errorf("Paths [%q]: no error", p)
		}
	}
}

func TestRunSkipsSymlinksAndLargeFiles(t *testing.T) {
	dbDir := filepath.Join(t.TempDir(), "db")
	outside := t.TempDir()
	copyFile(t, filepath.Join(depsRepo, "requirements.txt"), filepath.Join(outside, "requirements.txt"))
	repo := t.TempDir()
	copyFile(t, filepath.Join(depsRepo, "package-lock.json"), filepath.Join(repo, "package-lock.json"))
	// A lockfile that is a link out of the checkout, and a directory link.
	if err := os.Symlink(filepath.Join(outside, "requirements.txt"), filepath.Join(repo, "requirements.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "vendor")); err != nil {
		t.Fatal(err)
	}
	bigMod := "module example.com/big\n\nrequire golang.org/x/text v0.3.6\n" + strings.Repeat("// padding\n", 200)
	if err := os.MkdirAll(filepath.Join(repo, "big"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "big", "go.mod"), []byte(bigMod), 0o644); err != nil {
		t.Fatal(err)
	}

	s := newScannerWithDB(t, dbDir, Options{MaxFileSize: 2000}) // package-lock.json is below
	res := run(t, s, checks.Target{Dir: repo})

	for _, f := range res.Findings {
		if f.File != "package-lock.json" {
			t.Errorf("finding in %s: a link or an oversized file was read", f.File)
		}
	}
	wantSkipped := map[string]string{"requirements.txt": "symbolic link", "big/go.mod": "limit"}
	for _, sk := range res.Scope.Skipped {
		if r, ok := wantSkipped[sk.Path]; ok && strings.Contains(sk.Reason, r) {
			delete(wantSkipped, sk.Path)
		}
	}
	if len(wantSkipped) > 0 {
		t.Errorf("Skipped = %+v, missing %v", res.Scope.Skipped, wantSkipped)
	}
}

// TestRunNestedLockfile reports findings of a lockfile in a subdirectory
// under its path from the target root.
func TestRunNestedLockfile(t *testing.T) {
	repo := t.TempDir()
	copyFile(t, filepath.Join(depsRepo, "package-lock.json"), filepath.Join(repo, "web", "app", "package-lock.json"))
	s, _ := newFixtureScanner(t)
	res := run(t, s, checks.Target{Dir: repo})
	if !slices.Equal(res.Scope.Inputs, []string{"web/app/package-lock.json"}) {
		t.Errorf("Inputs = %q", res.Scope.Inputs)
	}
	if len(res.Findings) != 3 {
		t.Fatalf("%d findings, want lodash's two and minimist's", len(res.Findings))
	}
	for _, f := range res.Findings {
		if f.File != "web/app/package-lock.json" || f.StartLine == 0 {
			t.Errorf("finding at %s", f.Location())
		}
	}
}

func TestOutermost(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"."}, []string{"."}},
		{[]string{"-x", ".", "a"}, []string{"."}},
		{[]string{"a", "a-b", "a/b", "a/b/c", "b"}, []string{"a", "a-b", "b"}},
	}
	for _, tt := range tests {
		if got := outermost(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("outermost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
