package gitfetch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// newRepo serves a public repository (no token needed) from the fake
// GitHub, with some history on main.
func newRepo(t *testing.T) (*githubtest.Server, *githubtest.Repo) {
	t.Helper()
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	repo.SetPublic(true)
	repo.Commit("main", "init", map[string]string{"README.md": "hello\n", "src/a.go": "package a\n", "src/b.go": "package b\n"})
	repo.Commit("main", "more", map[string]string{"src/c.go": "package c\n"})
	return fake, repo
}

func open(t *testing.T, ms *Mirrors, repo *githubtest.Repo, refs []string, head, base string) *Snapshot {
	t.Helper()
	s, err := ms.Open(context.Background(), repo.FullName(), FetchSpec{CloneURL: repo.CloneURL(), Refs: refs, Head: head, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The second pull request on a repository moves only the objects it adds:
// one file changed at the root is a commit, a root tree and a blob.
func TestMirrorFetchesOnlyNewObjects(t *testing.T) {
	_, repo := newRepo(t)
	ms := &Mirrors{Dir: t.TempDir()}
	pr1 := repo.Commit("pr1", "one", map[string]string{"one.txt": "1\n"})
	s := open(t, ms, repo, []string{"refs/heads/pr1", "refs/heads/main"}, pr1, repo.Head("main"))
	if !s.Stats.Rebuilt || s.Stats.NewObjects < 9 {
		t.Errorf("first fetch: %+v, want a new mirror with the whole history", s.Stats)
	}
	if s.MergeBase != repo.Head("main") || s.Ref("refs/heads/pr1") != pr1 {
		t.Errorf("merge base %s, pr1 ref %s", s.MergeBase, s.Ref("refs/heads/pr1"))
	}
	s.Close()

	pr2 := repo.Commit("pr2", "two", map[string]string{"two.txt": "2\n"})
	s = open(t, ms, repo, []string{"refs/heads/pr2", "refs/heads/main"}, pr2, repo.Head("main"))
	defer s.Close()
	if s.Stats.Rebuilt || s.Stats.NewObjects != 3 {
		t.Errorf("second fetch: %+v, want 3 new objects (commit, tree, blob)", s.Stats)
	}
}

// Two jobs on one repository at once: each waits for the other's fetch and
// both see their commits.
func TestMirrorConcurrentJobs(t *testing.T) {
	_, repo := newRepo(t)
	ms := &Mirrors{Dir: t.TempDir()}
	heads := map[string]string{}
	for _, b := range []string{"x", "y", "z"} {
		heads[b] = repo.Commit(b, b, map[string]string{b + ".txt": b + "\n"})
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(heads))
	for b, head := range heads {
		wg.Go(func() {
			s, err := ms.Open(context.Background(), repo.FullName(), FetchSpec{CloneURL: repo.CloneURL(), Refs: []string{"refs/heads/" + b}, Head: head})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			tree, err := s.Tree(context.Background(), head)
			if err != nil {
				errs <- err
				return
			}
			found := false
			for _, e := range tree {
				found = found || e.Path == b+".txt"
			}
			if !found {
				errs <- os.ErrNotExist
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if out, err := exec.Command("git", "-C", filepath.Join(ms.Dir, key(repo.FullName())+".git"), "fsck", "--connectivity-only").CombinedOutput(); err != nil {
		t.Errorf("mirror after concurrent fetches: %v\n%s", err, out)
	}
}

// A mirror left without its completion marker (a crash during a fetch) is
// rebuilt, even when its object store is broken.
func TestMirrorHalfWrittenIsRebuilt(t *testing.T) {
	_, repo := newRepo(t)
	ms := &Mirrors{Dir: t.TempDir()}
	head := repo.Head("main")
	open(t, ms, repo, []string{"refs/heads/main"}, head, "").Close()
	dir := filepath.Join(ms.Dir, key(repo.FullName())+".git")
	if err := os.Remove(filepath.Join(dir, completeMarker)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "objects", "pack")); err != nil {
		t.Fatal(err)
	}
	s := open(t, ms, repo, []string{"refs/heads/main"}, head, "")
	defer s.Close()
	if !s.Stats.Rebuilt {
		t.Errorf("half-written mirror reused: %+v", s.Stats)
	}
	if _, err := s.Tree(context.Background(), head); err != nil {
		t.Errorf("rebuilt mirror: %v", err)
	}
}

// A blob over the size limit stays on the server and is listed as missing;
// a commit in the scanned range that adds one has it fetched by id (the
// secrets check reads what the range adds).
func TestMirrorBlobOverLimit(t *testing.T) {
	_, repo := newRepo(t)
	big := strings.Repeat("x", 5000)
	repo.Commit("main", "big", map[string]string{"big.bin": big})
	base := repo.Head("main")
	head := repo.Commit("pr", "bigger", map[string]string{"bigger.bin": big + "y", "small.txt": "s\n"})
	ms := &Mirrors{Dir: t.TempDir(), MaxBlobSize: 1000}
	s := open(t, ms, repo, []string{"refs/heads/pr", "refs/heads/main"}, head, base)
	defer s.Close()
	missing := func() map[string]bool {
		tree, err := s.Tree(context.Background(), head)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, e := range tree {
			if e.Missing() {
				m[e.Path] = true
			}
		}
		return m
	}
	if m := missing(); !m["big.bin"] || !m["bigger.bin"] || len(m) != 2 {
		t.Errorf("missing = %v, want big.bin and bigger.bin", m)
	}
	n, err := s.EnsureRange(context.Background(), base, head)
	if err != nil || n != 1 {
		t.Fatalf("EnsureRange = %d, %v; want the one blob the range adds", n, err)
	}
	// Fetched for the history, bigger.bin is still over the limit: it is
	// never written out.
	if m := missing(); !m["big.bin"] || !m["bigger.bin"] || len(m) != 2 {
		t.Errorf("after EnsureRange missing = %v, want big.bin and bigger.bin", m)
	}
	diff, err := s.Diff(context.Background(), base, head)
	if err != nil || !strings.Contains(string(diff), "+++ b/bigger.bin") {
		t.Errorf("diff: %v\n%s", err, diff)
	}
}

// TestMirrorRangeBytesLimit: blobs fetched by id for a range (a fork's
// changed files are not filtered by size on the server) are bounded too:
// past MaxRangeBytes nothing is kept and EnsureRange says why.
func TestMirrorRangeBytesLimit(t *testing.T) {
	_, repo := newRepo(t)
	base := repo.Head("main")
	noise := func(n int) string { // incompressible, so the pack is as large as the blob
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)[:n]
	}
	head := repo.Commit("pr", "large files", map[string]string{"a.bin": noise(6000), "b.bin": noise(6000)})
	ms := &Mirrors{Dir: t.TempDir(), MaxBlobSize: 1000, MaxRangeBytes: 8000}
	s := open(t, ms, repo, []string{"refs/heads/pr", "refs/heads/main"}, head, base)
	defer s.Close()
	packDir := filepath.Join(ms.Dir, key(repo.FullName())+".git", "objects", "pack")
	before, err := packFiles(packDir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.EnsureRange(context.Background(), base, head)
	if !errors.Is(err, ErrRangeTooLarge) || n != 0 {
		t.Fatalf("EnsureRange = %d, %v; want ErrRangeTooLarge", n, err)
	}
	t.Log(err)
	after, err := packFiles(packDir)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, after) {
		t.Errorf("the refused fetch left files: before %v, after %v", before, after)
	}
	missing, err := s.missing(context.Background(), head, "^"+base)
	if err != nil || len(missing) != 2 {
		t.Errorf("after the refused fetch %d blobs are missing (%v), want both", len(missing), err)
	}

	// Within the limit the same range is fetched.
	ms.MaxRangeBytes = 20000
	if n, err := s.EnsureRange(context.Background(), base, head); err != nil || n != 2 {
		t.Fatalf("EnsureRange = %d, %v; want both blobs", n, err)
	}
	if diff, err := s.Diff(context.Background(), base, head); err != nil || !strings.Contains(string(diff), "+++ b/a.bin") {
		t.Errorf("diff: %v\n%.300s", err, diff)
	}
}

// TestDiffIgnoresDiffAttribute: a change that marks every file -diff still
// shows its added lines in the pull request's diff.
func TestDiffIgnoresDiffAttribute(t *testing.T) {
	_, repo := newRepo(t)
	base := repo.Head("main")
	head := repo.Commit("pr", "hide", map[string]string{".gitattributes": "* -diff\n", "leak.env": "TOKEN=abc\n"})
	ms := &Mirrors{Dir: t.TempDir()}
	s := open(t, ms, repo, []string{"refs/heads/pr", "refs/heads/main"}, head, base)
	defer s.Close()
	// git 2.39 reads no tree's .gitattributes in a bare mirror; newer
	// versions read HEAD's (attr.tree). Put the line where every version
	// applies it.
	info := filepath.Join(ms.Dir, key(repo.FullName())+".git", "info")
	if err := os.MkdirAll(info, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(info, "attributes"), []byte("* -diff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	diff, err := s.Diff(context.Background(), base, head)
	if err != nil || !strings.Contains(string(diff), "+TOKEN=abc") || strings.Contains(string(diff), "Binary files") {
		t.Errorf("diff: %v\n%s", err, diff)
	}
}

// Materialize writes only the files asked for, never follows or creates a
// symlink, refuses paths into .git, and gives the scan a repository that
// reads the range offline.
func TestMaterialize(t *testing.T) {
	_, repo := newRepo(t)
	base := repo.Head("main")
	// A symlink to /etc/passwd named main.tf, committed with plumbing.
	gd := repo.Dir()
	git := func(stdin string, args ...string) string {
		cmd := exec.Command("git", append([]string{"--git-dir", gd}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	link := git("/etc/passwd", "hash-object", "-w", "--stdin")
	ls := git("", "ls-tree", base)
	tree := git(ls+"\n120000 blob "+link+"\tmain.tf\n", "mktree")
	head := git("", "commit-tree", tree, "-p", base, "-m", "link")
	git("", "update-ref", "refs/heads/link", head)

	ms := &Mirrors{Dir: t.TempDir()}
	s := open(t, ms, repo, []string{"refs/heads/link", "refs/heads/main"}, head, base)
	defer s.Close()
	entries, err := s.Tree(context.Background(), head)
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for _, e := range entries {
		if e.Path == "main.tf" || e.Path == "src/a.go" {
			want = append(want, e)
		}
	}
	dir := filepath.Join(t.TempDir(), "scan")
	if err := s.Materialize(context.Background(), dir, head, want, true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "main.tf"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("main.tf: %v %v, want a regular file", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "main.tf")); string(b) != "/etc/passwd" {
		t.Errorf("main.tf = %q, want the link's target as text", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "src", "b.go")); err == nil {
		t.Error("src/b.go materialized without being asked for")
	}
	out, err := exec.Command("git", "-C", dir, "log", "--format=%H", base+".."+head).Output()
	if err != nil || strings.TrimSpace(string(out)) != head {
		t.Errorf("git log in the scan dir: %q, %v", out, err)
	}
	bad := []Entry{{Path: ".git/config", Type: "blob", OID: link, Size: 11}}
	if err := s.Materialize(context.Background(), filepath.Join(t.TempDir(), "x"), head, bad, false); err == nil {
		t.Error("a path into .git was written")
	}
}

// A commit's listing is read with git once and kept: pull requests on one
// branch list the same base each time. A ref name, which moves, is listed
// each time.
func TestTreeListingKept(t *testing.T) {
	_, repo := newRepo(t)
	var mu sync.Mutex
	var lsTrees int
	log := slog.New(countingHandler{count: func(r slog.Record) {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "command" && a.Value.String() == "ls-tree" {
				mu.Lock()
				lsTrees++
				mu.Unlock()
			}
			return true
		})
	}})
	ms := &Mirrors{Dir: t.TempDir(), Logger: log}
	base := repo.Head("main")
	head := repo.Commit("pr", "one", map[string]string{"one.txt": "1\n"})
	for i := range 2 {
		s := open(t, ms, repo, []string{"refs/heads/pr", "refs/heads/main"}, head, base)
		for _, rev := range []string{base, head} {
			tree, err := s.Tree(context.Background(), rev)
			if err != nil || len(tree) == 0 {
				t.Fatalf("Tree(%s) = %d entries, %v", rev, len(tree), err)
			}
			tree[0].Path = "changed by the caller" // a copy: the kept listing is not touched
		}
		s.Close()
		mu.Lock()
		if lsTrees != 2 {
			t.Errorf("job %d: %d ls-tree runs, want 2 (each commit listed once, then kept)", i+1, lsTrees)
		}
		mu.Unlock()
	}
	s := open(t, ms, repo, []string{"refs/heads/pr", "refs/heads/main"}, head, base)
	defer s.Close()
	tree, err := s.Tree(context.Background(), head)
	if err != nil || tree[0].Path == "changed by the caller" {
		t.Fatalf("kept listing changed by a caller: %v %+v", err, tree[0])
	}
	for range 2 {
		if _, err := s.Tree(context.Background(), localRef("refs/heads/main")); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if lsTrees != 4 {
		t.Errorf("%d ls-tree runs, want 4: a ref name is listed each time", lsTrees)
	}
}

// countingHandler passes each debug record to count.
type countingHandler struct{ count func(slog.Record) }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.count(r)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
