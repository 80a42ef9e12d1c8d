package verdict

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

// The trees of `gatehouse scan`: the working directory (DirTree) and
// commits of the user's repository (GitTree). The server's trees are its
// git mirror's (app/worker).

// DirTree is a working directory. Its files are named by the blob id git
// would give them, so units and cache keys are the same as for a commit
// holding the same content.
type DirTree struct {
	Dir string
	// GitDir is the repository's .git directory, for a commit range
	// (Checkout withGit); "" when Dir is not in a repository.
	GitDir string
	// Hashes, when set, remembers the blob ids of files by their stat
	// data, as git's index does, so an unchanged file is not read again.
	Hashes Hashes
}

// Hashes remembers blob ids by a file's stat data (StatKey).
type Hashes interface {
	LookupHashes(keys []string) (map[string]string, error)
	PutHashes(ids map[string]string) error
}

// StatKey identifies a file's content by its stat data: path, size, mode,
// inode and modification time (nanoseconds), as git's index does with
// core.trustctime off: the change time is left out because Checkout's hard
// links change it without touching the content.
func StatKey(p string, info fs.FileInfo) string {
	var ino uint64
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%s\x00%d\x00%o\x00%d\x00%d", p, info.Size(), info.Mode(), ino, info.ModTime().UnixNano())
}

// racyWindow: a file changed this recently is hashed but its id not
// remembered: a write within the file system's timestamp granularity
// after hashing could leave its stat data unchanged (git's "racily
// clean" entries).
const racyWindow = 2 * time.Second

var _ Tree = (*DirTree)(nil)

// Rev is "": a working directory.
func (d *DirTree) Rev() string { return "" }

// Files walks the directory through an os.Root (never following a
// symlink, never leaving it); .git directories are not part of the tree.
// Every file is read once, to hash it, unless Hashes knows it; Memo keeps
// the listing for several readers.
func (d *DirTree) Files(ctx context.Context) ([]checks.File, error) {
	root, err := os.OpenRoot(d.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []checks.File
	type toHash struct {
		i    int
		key  string
		racy bool
	}
	var hashLater []toHash
	err = fs.WalkDir(root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".git" && p != "." {
				return fs.SkipDir
			}
			return nil
		}
		if !safePath(p) {
			return nil
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, checks.File{Path: p, Mode: "120000", OID: blobID([]byte(target)), Size: int64(len(target))})
		case e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return err
			}
			mode := "100644"
			if info.Mode()&0o111 != 0 {
				mode = "100755"
			}
			hashLater = append(hashLater, toHash{i: len(out), key: StatKey(p, info), racy: time.Since(info.ModTime()) < racyWindow})
			out = append(out, checks.File{Path: p, Mode: mode, Size: info.Size()})
		}
		return nil // sockets, devices and fifos are no files
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", d.Dir, err)
	}
	known := map[string]string{}
	if d.Hashes != nil && len(hashLater) > 0 {
		keys := make([]string, len(hashLater))
		for i, h := range hashLater {
			keys[i] = h.key
		}
		if known, err = d.Hashes.LookupHashes(keys); err != nil {
			known = map[string]string{} // a cache that cannot be read is no cache
		}
	}
	learnt := map[string]string{}
	for _, h := range hashLater {
		f := &out[h.i]
		if id, ok := known[h.key]; ok {
			f.OID = id
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, n, err := hashFile(root, f.Path)
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", d.Dir, err)
		}
		f.OID, f.Size = id, n
		if !h.racy {
			learnt[h.key] = id
		}
	}
	if d.Hashes != nil && len(learnt) > 0 {
		_ = d.Hashes.PutHashes(learnt) // best effort: the next run hashes again
	}
	return out, nil
}

// hashFile reads a file once to compute its blob id.
func hashFile(root *os.Root, p string) (string, int64, error) {
	f, err := root.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !info.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%s changed while it was read", p)
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", info.Size())
	n, err := io.Copy(h, io.LimitReader(f, info.Size()))
	if err != nil {
		return "", 0, err
	}
	if n != info.Size() {
		return "", 0, fmt.Errorf("%s changed while it was read", p)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ReadFile reads p through an os.Root.
func (d *DirTree) ReadFile(_ context.Context, p string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(d.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMax(f, p, max)
}

// Checkout links the files into dir (hard links: nothing is copied; a
// copy where dir is on another file system; a symlink becomes a file
// holding its target). The checks only read what they are given. With withGit, dir/.git points at the repository (a gitdir
// file), which the secrets check reads history from; nothing writes to it.
func (d *DirTree) Checkout(_ context.Context, dir string, files []checks.File, withGit bool) error {
	src, err := os.OpenRoot(d.Dir)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dst, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	if withGit {
		if d.GitDir == "" {
			return fmt.Errorf("%s is not in a git repository", d.Dir)
		}
		if err := os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: "+d.GitDir+"\n"), 0o644); err != nil {
			return err
		}
	}
	link := true
	for _, f := range files {
		if !safePath(f.Path) {
			return fmt.Errorf("path %q is not safe to check out", f.Path)
		}
		if link && f.Mode != "120000" {
			err := linkFile(d.Dir, dir, dst, f.Path)
			if err == nil {
				continue
			}
			if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) {
				return err
			}
			link = false // another file system, or links refused: copy
		}
		if err := copyFile(src, dst, f); err != nil {
			return err
		}
	}
	return nil
}

// linkFile hard-links srcDir/p as dstDir/p. os.Link takes paths, not
// roots, so the source must be a regular file (Lstat: never a symlink)
// and every directory above it is checked the same way first.
func linkFile(srcDir, dstDir string, dst *os.Root, p string) error {
	if err := dst.MkdirAll(path.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if st, err := os.Lstat(filepath.Join(srcDir, d)); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: not a directory", d)
		}
	}
	src := filepath.Join(srcDir, filepath.FromSlash(p))
	if st, err := os.Lstat(src); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", p)
	}
	return os.Link(src, filepath.Join(dstDir, filepath.FromSlash(p)))
}

func copyFile(src, dst *os.Root, f checks.File) error {
	if f.Mode == "120000" {
		target, err := src.Readlink(f.Path)
		if err != nil {
			return err
		}
		return writeFile(dst, f.Path, strings.NewReader(target))
	}
	in, err := src.Open(f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, f.Path, in)
}

// GitTree is a commit of a local repository, read with git (hooks, filters
// and external diff tools off).
type GitTree struct {
	Repo   string // a directory inside the repository
	Commit string // a full commit id
}

var _ Tree = (*GitTree)(nil)

// Rev is the commit.
func (g *GitTree) Rev() string { return g.Commit }

// Files lists the commit's blobs (git ls-tree), submodules left out.
func (g *GitTree) Files(ctx context.Context) ([]checks.File, error) {
	out, err := git(ctx, g.Repo, nil, "ls-tree", "-r", "-l", "-z", "--full-tree", g.Commit)
	if err != nil {
		return nil, err
	}
	var files []checks.File
	for rec := range bytes.SplitSeq(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, p, ok := bytes.Cut(rec, []byte{'\t'})
		f := strings.Fields(string(meta))
		if !ok || len(f) != 4 {
			return nil, fmt.Errorf("ls-tree %s: unexpected line %q", g.Commit, rec)
		}
		if f[1] != "blob" || !safePath(string(p)) {
			continue
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ls-tree %s: unexpected size in %q", g.Commit, rec)
		}
		files = append(files, checks.File{Path: string(p), Mode: f[0], OID: f[2], Size: size})
	}
	return files, nil
}

// ReadFile reads p at the commit.
func (g *GitTree) ReadFile(ctx context.Context, p string, max int64) ([]byte, error) {
	b, err := git(ctx, g.Repo, nil, "cat-file", "blob", g.Commit+":"+p)
	if err != nil {
		return nil, err
	}
	return readMax(bytes.NewReader(b), p, max)
}

// Checkout writes the files out of `git archive` (which reads the object
// store only, never the work tree). withGit needs the working directory's
// tree: a commit range is read there.
func (g *GitTree) Checkout(ctx context.Context, dir string, files []checks.File, withGit bool) error {
	if withGit {
		return errors.New("a commit range is read from the working directory, not from a base commit")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dst, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
	}
	if len(want) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, "git", append(safeGit, "archive", "--format=tar", g.Commit)...)
	cmd.Dir = g.Repo
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	tr := tar.NewReader(bufio.NewReader(pipe))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("git archive %s: %w", g.Commit, err)
		}
		if !want[h.Name] {
			continue
		}
		var r io.Reader = tr
		switch h.Typeflag {
		case tar.TypeReg:
		case tar.TypeSymlink:
			r = strings.NewReader(h.Linkname)
		default:
			continue
		}
		if err := writeFile(dst, h.Name, r); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return err
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %w: %s", g.Commit, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// safeGit are options of every git call: the repository's own config
// cannot run anything (hooks, filters, external diff or textconv tools).
var safeGit = []string{
	"-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "diff.external=",
	"-c", "filter.lfs.smudge=", "-c", "filter.lfs.process=", "-c", "filter.lfs.required=false",
	"-c", "protocol.allow=never", "-c", "core.pager=cat",
}

func gitEnv() []string {
	return append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_NO_REPLACE_OBJECTS=1", "LC_ALL=C")
}

// git runs git in dir and returns its output.
func git(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append(slices.Clone(safeGit), args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// blobID is the id git gives content as a blob.
func blobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// safePath reports whether a tree path may be written into a scan
// directory: relative, no "." or ".." component, never into a .git.
func safePath(p string) bool {
	if p == "" || !fs.ValidPath(p) || strings.Contains(p, "\\") {
		return false
	}
	for part := range strings.SplitSeq(p, "/") {
		if strings.EqualFold(part, ".git") {
			return false
		}
	}
	return true
}

func writeFile(root *os.Root, p string, r io.Reader) error {
	if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	return f.Close()
}

func readMax(r io.Reader, p string, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, max)
	}
	return b, nil
}
