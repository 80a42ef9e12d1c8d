package gittest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHistoryIsReproducible(t *testing.T) {
	build := func() []string {
		dir := New(t)
		c1 := Commit(t, dir, "first", map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n"})
		c2 := Commit(t, dir, "second", map[string]string{"a.txt": "a2\n"})
		c3 := Remove(t, dir, "third", "sub")
		c4 := Commit(t, dir, "empty", nil)
		return []string{c1, c2, c3, c4}
	}
	a, b := build(), build()
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("two builds of one script: %v and %v", a, b)
	}
	seen := map[string]bool{}
	for _, c := range a {
		if len(c) != 40 || seen[c] {
			t.Errorf("commit ids %v: want four distinct full ids", a)
		}
		seen[c] = true
	}
}

func TestCommitContents(t *testing.T) {
	dir := New(t)
	Commit(t, dir, "add", map[string]string{"x/y.txt": "hello\n", "z.txt": "z\n"})
	Remove(t, dir, "remove z", "z.txt")
	if got := Git(t, dir, "ls-tree", "-r", "--name-only", "HEAD"); got != "x/y.txt" {
		t.Errorf("tree = %q, want x/y.txt", got)
	}
	if got := Git(t, dir, "log", "--format=%an <%ae> %ad %s", "--date=iso-strict", "-1", "HEAD~1"); got != AuthorName+" <"+AuthorEmail+"> 2024-01-02T03:04:05+00:00 add" {
		t.Errorf("first commit = %q", got)
	}
	if got := Git(t, dir, "log", "--format=%cd", "--date=iso-strict", "-1"); got != "2024-01-02T03:05:05+00:00" {
		t.Errorf("second commit date = %q, want one minute later", got)
	}
	if got := Git(t, dir, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("branch = %q, want main", got)
	}
}

func TestCommitDir(t *testing.T) {
	src := t.TempDir()
	WriteFiles(t, src, map[string]string{"run.sh": "#!/bin/sh\n", "d/e.txt": "e\n", ".git/config": "not copied\n"})
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/e.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	dir := New(t)
	CommitDir(t, dir, "import", src)
	got := Git(t, dir, "ls-tree", "-r", "HEAD")
	if !strings.Contains(got, "100755 blob") || !strings.Contains(got, "\trun.sh") || !strings.Contains(got, "\td/e.txt") {
		t.Errorf("tree:\n%s\nwant run.sh executable and d/e.txt", got)
	}
	if strings.Contains(got, "link") || strings.Contains(got, ".git/") {
		t.Errorf("tree:\n%s\nwant no symlink and nothing from .git", got)
	}
}

func TestEnvIgnoresCallerGit(t *testing.T) {
	t.Setenv("GIT_DIR", "/nonexistent")
	t.Setenv("GIT_AUTHOR_NAME", "Someone Else")
	dir := New(t)
	Commit(t, dir, "x", map[string]string{"f": "f\n"})
	if got := Git(t, dir, "log", "--format=%an", "-1"); got != AuthorName {
		t.Errorf("author = %q, want %q", got, AuthorName)
	}
}
