// Package gittest builds real git repositories for tests: a fixed author and
// committer, one fixed date per commit (so the same script always yields the
// same commit ids), no user or system git configuration and no hooks.
package gittest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Author is the name and address every commit made by this package carries.
const (
	AuthorName  = "Gatehouse Test"
	AuthorEmail = "test@gatehouse.invalid"
)

// EpochUnix is the date (Unix seconds, 2024-01-02T03:04:05Z) of a
// repository's first commit; commit n (0-based) is dated n minutes later.
const EpochUnix = 1704164645

// New creates an empty repository in a fresh t.TempDir and returns its path.
func New(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	Init(t, dir)
	return dir
}

// Init makes dir (created if missing) an empty repository on branch main.
func Init(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("gittest: create %s: %v", dir, err)
	}
	Git(t, dir, "init", "-q", "-b", "main")
	for _, kv := range [][2]string{
		{"commit.gpgsign", "false"},
		{"core.autocrlf", "false"},
		{"core.hooksPath", os.DevNull},
	} {
		Git(t, dir, "config", kv[0], kv[1])
	}
}

// Git runs git in dir with this package's isolated environment and returns
// its standard output with surrounding white space trimmed. It fails the test
// when git fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return GitEnv(t, dir, nil, args...)
}

// GitEnv is Git with extra environment variables ("KEY=value").
func GitEnv(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(Env(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gittest: git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// Env is the environment this package runs git with: the process environment
// without any GIT_* variable, no global or system configuration, and the
// fixed author and committer.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+AuthorName,
		"GIT_AUTHOR_EMAIL="+AuthorEmail,
		"GIT_COMMITTER_NAME="+AuthorName,
		"GIT_COMMITTER_EMAIL="+AuthorEmail,
		"LC_ALL=C",
	)
}

// WriteFiles writes files (slash paths relative to dir → content), creating
// parent directories, without committing.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for _, name := range sortedKeys(files) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("gittest: create directory for %s: %v", name, err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatalf("gittest: write %s: %v", name, err)
		}
	}
}

// Commit writes files (see WriteFiles), stages exactly those paths and
// commits them with msg. It returns the new commit's id. With no files it
// makes an empty commit.
func Commit(t testing.TB, dir, msg string, files map[string]string) string {
	t.Helper()
	WriteFiles(t, dir, files)
	if len(files) > 0 {
		Git(t, dir, append([]string{"add", "--"}, sortedKeys(files)...)...)
	}
	return commit(t, dir, msg)
}

// CommitDir copies the regular files of the tree at src into dir (keeping
// the executable bit, skipping .git and symlinks), stages everything and
// commits it with msg. It returns the new commit's id.
func CommitDir(t testing.TB, dir, msg, src string) string {
	t.Helper()
	CopyTree(t, src, dir)
	Git(t, dir, "add", "-A")
	return commit(t, dir, msg)
}

// Remove deletes paths from the work tree and the index and commits that
// with msg. It returns the new commit's id.
func Remove(t testing.TB, dir, msg string, paths ...string) string {
	t.Helper()
	Git(t, dir, append([]string{"rm", "-q", "-r", "--"}, paths...)...)
	return commit(t, dir, msg)
}

// Head returns the id of the commit HEAD points to.
func Head(t testing.TB, dir string) string {
	t.Helper()
	return Git(t, dir, "rev-parse", "HEAD")
}

// CopyTree copies the regular files under src into dst (keeping the
// executable bit), skipping .git directories and symlinks.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return os.WriteFile(filepath.Join(dst, rel), b, mode)
	})
	if err != nil {
		t.Fatalf("gittest: copy %s to %s: %v", src, dst, err)
	}
}

// commit commits what is staged, dated Epoch plus one minute per commit
// already in the repository.
func commit(t testing.TB, dir, msg string) string {
	t.Helper()
	n, err := strconv.Atoi(Git(t, dir, "rev-list", "--all", "--count"))
	if err != nil {
		t.Fatalf("gittest: count commits in %s: %v", dir, err)
	}
	date := fmt.Sprintf("%d +0000", EpochUnix+int64(n)*60)
	GitEnv(t, dir, []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date},
		"commit", "-q", "--allow-empty", "--no-verify", "-m", msg)
	return Head(t, dir)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
