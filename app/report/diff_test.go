package report

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// gitRepoDiff commits before, then after (nil content removes a file),
// and returns `git diff` between the two with extra args.
func gitRepoDiff(t *testing.T, before, after map[string]*string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return out
	}
	write := func(files map[string]*string) {
		for p, c := range files {
			full := filepath.Join(dir, p)
			if c == nil {
				if err := os.Remove(full); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(*c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	run("init", "--quiet")
	write(before)
	run("add", "-A")
	run("commit", "--quiet", "-m", "before")
	write(after)
	run("add", "-A")
	run("commit", "--quiet", "-m", "after")
	return run(append(append([]string{"-c", "core.quotePath=true", "diff", "--no-color", "-U3"}, args...), "HEAD~1", "HEAD", "--")...)
}

func ptr(s string) *string { return &s }

func TestParseDiff(t *testing.T) {
	changed := strings.Replace(numbered(40), "line 10\n", "line 10 changed\n", 1)
	renamed := strings.Replace(numbered(40), "line 30\n", "line 30 changed\n", 1)
	before := map[string]*string{
		"app.txt": ptr(numbered(40)), "old.txt": ptr(numbered(40)), "gone.txt": ptr("bye\n"),
		"bin.dat": ptr("\x00\x01\x02"), "tail.txt": ptr("a\nb"),
	}
	after := map[string]*string{
		"app.txt": ptr(changed), "old.txt": nil, "new dir/renamed ü.txt": ptr(renamed), "gone.txt": nil,
		"bin.dat": ptr("\x00\x01\x03"), "tail.txt": ptr("a\nb\nc"), "added.txt": ptr("one\ntwo\n"),
	}
	for _, tc := range []struct {
		name  string
		args  []string
		files []string
		yes   map[string][]int
		no    map[string][]int
	}{
		{
			name:  "rename detection",
			args:  []string{"-M"},
			files: []string{"added.txt", "app.txt", "new dir/renamed ü.txt", "tail.txt"},
			yes:   map[string][]int{"app.txt": {7, 8, 10, 13}, "new dir/renamed ü.txt": {27, 30, 33}, "added.txt": {1, 2}, "tail.txt": {1, 2, 3}},
			no:    map[string][]int{"app.txt": {6, 14, 30}, "new dir/renamed ü.txt": {1, 26, 34}, "added.txt": {3}, "gone.txt": {1}, "bin.dat": {1}, "old.txt": {30}},
		},
		{
			name:  "no rename detection",
			args:  []string{"--no-renames"},
			files: []string{"added.txt", "app.txt", "new dir/renamed ü.txt", "tail.txt"},
			yes:   map[string][]int{"new dir/renamed ü.txt": {1, 26, 40}},
			no:    map[string][]int{"old.txt": {1}, "new dir/renamed ü.txt": {41}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDiff(gitRepoDiff(t, before, after, tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Files(); !slices.Equal(got, tc.files) {
				t.Errorf("files %q, want %q", got, tc.files)
			}
			for path, lines := range tc.yes {
				for _, l := range lines {
					if !d.Commentable(path, l) {
						t.Errorf("%s:%d should be commentable", path, l)
					}
				}
			}
			for path, lines := range tc.no {
				for _, l := range lines {
					if d.Commentable(path, l) {
						t.Errorf("%s:%d should not be commentable", path, l)
					}
				}
			}
		})
	}
}

func TestParseDiffMalformed(t *testing.T) {
	good := "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,1 +1,2 @@\n a\n+b\n"
	bad := "diff --git a/b.txt b/b.txt\n--- a/b.txt\n+++ b/b.txt\n@@ -1,1 +1,5 @@\n a\n+b\n"
	for _, tc := range []struct {
		name    string
		diff    string
		wantErr bool
		a2      bool
	}{
		{"empty", "", false, false},
		{"one file", good, false, true},
		{"miscounted hunk after a good file", good + bad, true, true},
		{"garbage", "not a diff at all\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDiff([]byte(tc.diff))
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if d.Commentable("a.txt", 2) != tc.a2 {
				t.Errorf("a.txt:2 commentable = %v, want %v", !tc.a2, tc.a2)
			}
			if d.Commentable("b.txt", 2) {
				t.Error("a miscounted hunk must not yield commentable lines")
			}
		})
	}
}

func TestPlace(t *testing.T) {
	diff := "diff --git a/c.env b/c.env\n--- a/c.env\n+++ b/c.env\n@@ -1,4 +1,7 @@\n # settings\n+# owner\n+aws_key=REDACTED-LOOKALIKE\n region=eu\n x\n+token=abc\n y\n" +
		"diff --git a/lock.json b/lock.json\n--- a/lock.json\n+++ b/lock.json\n@@ -10,3 +10,4 @@\n a\n b\n+c\n d\n"
	d, err := ParseDiff([]byte(diff))
	if err != nil {
		t.Fatal(err)
	}
	secret := func(line int, match string) checks.Finding {
		return checks.Finding{Check: checks.Secrets, File: "c.env", StartLine: line, EndLine: line, Match: match}
	}
	for _, tc := range []struct {
		name string
		f    checks.Finding
		line int
		note string
	}{
		{"added line", checks.Finding{File: "c.env", StartLine: 6}, 6, ""},
		{"context line", checks.Finding{File: "c.env", StartLine: 4}, 4, ""},
		{"range starting before the hunk", checks.Finding{File: "lock.json", StartLine: 5, EndLine: 11}, 10, "spans lines 5–11"},
		{"range outside", checks.Finding{File: "lock.json", StartLine: 1, EndLine: 9}, 0, ""},
		{"no line: first change", checks.Finding{File: "lock.json"}, 12, "first change of lock.json"},
		{"file not in diff", checks.Finding{File: "other.txt", StartLine: 1}, 0, ""},
		{"no file", checks.Finding{StartLine: 1}, 0, ""},
		{"secret on its line", secret(3, "aws_key=REDACTED"), 3, ""},
		{"secret line moved on", secret(2, "aws_key=REDACTED"), 0, ""},
		{"secret on a context line", secret(4, "region=REDACTED"), 0, ""},
		{"secret all redacted is trusted", secret(6, "REDACTED"), 6, ""},
		{"secret multi-line match", secret(3, "aws_key=REDACTED\nmore"), 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := place(tc.f, d)
			if p.line != tc.line || !strings.Contains(p.note, tc.note) || (tc.note == "" && p.note != "") {
				t.Errorf("place = %+v, want line %d with note %q", p, tc.line, tc.note)
			}
		})
	}
}

// BenchmarkParseDiff reads a diff of 50 new files of 1,000 lines each.
func BenchmarkParseDiff(b *testing.B) {
	var sb strings.Builder
	for f := range 50 {
		fmt.Fprintf(&sb, "diff --git a/f%d.txt b/f%d.txt\nnew file mode 100644\n--- /dev/null\n+++ b/f%d.txt\n@@ -0,0 +1,1000 @@\n", f, f, f)
		for i := range 1000 {
			fmt.Fprintf(&sb, "+line %d of a file that is long enough to be realistic\n", i)
		}
	}
	diff := []byte(sb.String())
	b.SetBytes(int64(len(diff)))
	for b.Loop() {
		d, err := ParseDiff(diff)
		if err != nil || !d.Commentable("f49.txt", 1000) {
			b.Fatalf("parse: %v", err)
		}
	}
}
