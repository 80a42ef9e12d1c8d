package gitfetch

import (
	"bufio"
	"bytes"
	"context"
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
)

// Entry is one object of a commit's tree.
type Entry struct {
	Path string // slash-separated, from the root
	Mode string // git's octal mode: 100644, 100755, 120000 (symlink), 040000, 160000
	Type string // blob, tree or commit (a submodule)
	OID  string
	Size int64 // blobs only; -1 when the blob is not in the mirror
}

// Missing reports whether a blob is over the size limit: it stayed on the
// server, or came by id for the history of a range and is never written
// out.
func (e Entry) Missing() bool { return e.Type == "blob" && e.Size < 0 }

// Tree lists every entry of rev's tree, subtrees included, with the size of
// each blob present in the mirror; a blob over the mirror's size limit is
// Missing even when a range fetched it by id, so that no file over the
// limit is ever materialized. It reads no blob.
//
// A commit's listing is kept (Mirrors.listings), keyed by the commit id:
// the blobs a mirror holds only grow, by fetches of refs (blobs within the
// size limit) and of blobs by id (over it, so Missing whether present or
// not), so it never changes. Pull requests on one branch list the same
// base again and again.
func (s *Snapshot) Tree(ctx context.Context, rev string) ([]Entry, error) {
	l, err := s.listing(ctx, rev)
	if err != nil {
		return nil, err
	}
	return slices.Clone(l.entries), nil
}

// listing is a commit's tree as Tree returns it, with the objects the
// mirror does not hold.
type listing struct {
	entries []Entry
	absent  map[string]bool
}

// listing returns rev's listing, from the mirrors' cache when rev is a
// commit id.
func (s *Snapshot) listing(ctx context.Context, rev string) (*listing, error) {
	cacheKey := ""
	if isObjectID(rev) {
		cacheKey = s.dir + "\x00" + rev
		if l, ok := s.mirrors.listings().Get(cacheKey); ok {
			return l, nil
		}
	}
	l, err := s.list(ctx, rev)
	if err != nil {
		return nil, err
	}
	if cacheKey != "" {
		s.mirrors.listings().Add(cacheKey, l)
	}
	return l, nil
}

// isObjectID reports whether rev is a full object id (not a ref name,
// whose listing would change when the ref moves).
func isObjectID(rev string) bool {
	if len(rev) != 40 && len(rev) != 64 {
		return false
	}
	for _, c := range rev {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// list lists rev's tree with git.
func (s *Snapshot) list(ctx context.Context, rev string) (*listing, error) {
	out, err := s.git.Run(ctx, "ls-tree", "-r", "-t", "-z", "--full-tree", rev)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for rec := range bytes.SplitSeq(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, p, ok := bytes.Cut(rec, []byte{'\t'})
		f := strings.Fields(string(meta))
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("ls-tree %s: unexpected line %q", rev, rec)
		}
		entries = append(entries, Entry{Path: string(p), Mode: f[0], Type: f[1], OID: f[2]})
	}
	missing, err := s.missing(ctx, "--no-walk", rev)
	if err != nil {
		return nil, err
	}
	var present []string
	for i := range entries {
		e := &entries[i]
		if e.Type != "blob" {
			continue
		}
		if missing[e.OID] {
			e.Size = -1
			continue
		}
		present = append(present, e.OID)
	}
	sizes, err := s.sizes(ctx, present)
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if e := &entries[i]; e.Type == "blob" && e.Size >= 0 {
			e.Size = sizes[e.OID]
			if e.Size > s.mirrors.maxBlob() {
				e.Size = -1
			}
		}
	}
	return &listing{entries: entries, absent: missing}, nil
}

// missing returns the objects that rev-list (given args) reaches but the
// mirror does not hold; it never fetches them.
func (s *Snapshot) missing(ctx context.Context, args ...string) (map[string]bool, error) {
	out, err := s.git.Run(ctx, append([]string{"rev-list", "--objects", "--no-object-names", "--missing=print"}, args...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for line := range strings.SplitSeq(string(out), "\n") {
		if id, ok := strings.CutPrefix(line, "?"); ok {
			m[id] = true
		}
	}
	return m, nil
}

// sizes returns the size of each object in ids (all present).
func (s *Snapshot) sizes(ctx context.Context, ids []string) (map[string]int64, error) {
	m := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return m, nil
	}
	out, err := s.git.RunInput(ctx, []byte(strings.Join(ids, "\n")+"\n"), "cat-file", "--batch-check=%(objectname) %(objectsize)")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		id, size, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cat-file: unexpected line %q", line)
		}
		m[id] = n
	}
	return m, nil
}

const zeroOID = "0000000000000000000000000000000000000000"

// EnsureRange fetches, by id, every blob that the commits in base..head
// (head and its ancestors when base is "") change and that the mirror left
// on the server: the secrets check reads every line those commits add, and
// the pull request's diff shows them. Together they may be at most
// MaxRangeBytes; past that nothing is kept and EnsureRange fails, naming
// the limit (the history cannot be read without them). Tree still lists
// them as Missing. It returns how many were fetched.
func (s *Snapshot) EnsureRange(ctx context.Context, base, head string) (int, error) {
	rng := []string{head}
	if base != "" {
		rng = append(rng, "^"+base)
	}
	out, err := s.git.Run(ctx, append([]string{"log", "--raw", "--no-abbrev", "--no-renames", "--format=", "--root", "--full-history", "--no-ext-diff", "--no-textconv"}, rng...)...)
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(strings.SplitN(line, "\t", 2)[0])
		if len(f) < 5 || !strings.HasPrefix(f[0], ":") {
			continue
		}
		for i, id := range []string{f[2], f[3]} {
			mode := f[i]
			if id != zeroOID && mode != ":160000" && mode != "160000" {
				want[id] = true
			}
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	// Known to be present: objects rev-list reaches in the range and in
	// base's tree without a "?" mark.
	present := map[string]bool{}
	out, err = s.git.Run(ctx, append([]string{"rev-list", "--objects", "--no-object-names", "--missing=print"}, rng...)...)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if line != "" && line[0] != '?' {
			present[line] = true
		}
	}
	if base != "" {
		// The base's blobs (the old side of each change), from its
		// listing, which the scan reads anyway.
		l, err := s.listing(ctx, base)
		if err != nil {
			return 0, err
		}
		for _, e := range l.entries {
			if e.Type == "blob" && !l.absent[e.OID] {
				present[e.OID] = true
			}
		}
	}
	var fetch []string
	for id := range want {
		if !present[id] {
			fetch = append(fetch, id)
		}
	}
	if len(fetch) == 0 {
		return 0, nil
	}
	writer, err := lockFile(ctx, s.lockPath)
	if err != nil {
		return 0, err
	}
	err = s.fetchCapped(ctx, fetch, s.mirrors.maxRange())
	writer.unlock()
	if err != nil {
		return 0, fmt.Errorf("fetch %d changed blobs: %w", len(fetch), err)
	}
	s.Stats.Blobs += len(fetch)
	return len(fetch), nil
}

// SafePath reports whether a tree path may be written into a scan
// directory: relative, no "." or ".." component, never into a .git.
func SafePath(p string) bool {
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

// Materialize creates dir holding the given blobs of the mirror as regular
// files (a symlink becomes a file holding its target, as core.symlinks=false
// checks it out; nothing is ever created that points elsewhere). With
// withGit, dir also gets a .git repository whose object store is the
// mirror's packs (hard links, or copies across file systems) and whose HEAD
// is rev, so history-aware checks can read base..head offline.
func (s *Snapshot) Materialize(ctx context.Context, dir, rev string, files []Entry, withGit bool) error {
	// 0755: the sandboxed scanner (an unprivileged user) reads it.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create scan dir: %w", err)
	}
	if withGit {
		if err := s.linkRepo(ctx, dir, rev); err != nil {
			return err
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	byID := map[string][]string{}
	var ids []string
	for _, e := range files {
		if e.Type != "blob" || e.Missing() {
			continue
		}
		if !SafePath(e.Path) {
			return fmt.Errorf("tree path %q is not safe to check out", e.Path)
		}
		if byID[e.OID] == nil {
			ids = append(ids, e.OID)
		}
		byID[e.OID] = append(byID[e.OID], e.Path)
	}
	if len(ids) == 0 {
		return nil
	}
	return s.catBlobs(ctx, ids, func(id string, r io.Reader) error {
		paths := byID[id]
		first := paths[0]
		if err := writeFile(root, first, r); err != nil {
			return err
		}
		for _, p := range paths[1:] {
			if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
				return err
			}
			if err := root.Link(first, p); err != nil {
				return fmt.Errorf("write %s: %w", p, err)
			}
		}
		return nil
	})
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

// catBlobs streams the blobs ids (all present) through git cat-file --batch.
func (s *Snapshot) catBlobs(ctx context.Context, ids []string, each func(id string, r io.Reader) error) error {
	full := make([]string, 0, len(safeConfig)*2+2)
	for _, c := range safeConfig {
		full = append(full, "-c", c)
	}
	cmd := exec.CommandContext(ctx, "git", append(full, "cat-file", "--batch")...)
	cmd.Dir = s.dir
	cmd.Env = s.git.env()
	cmd.Stdin = strings.NewReader(strings.Join(ids, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	err = readBatch(bufio.NewReaderSize(stdout, 1<<16), len(ids), each)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git cat-file: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func readBatch(br *bufio.Reader, n int, each func(id string, r io.Reader) error) error {
	for range n {
		header, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("git cat-file: %w", err)
		}
		f := strings.Fields(header)
		if len(f) != 3 {
			return fmt.Errorf("git cat-file: %q", strings.TrimSpace(header))
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("git cat-file: %q", strings.TrimSpace(header))
		}
		lr := &io.LimitedReader{R: br, N: size}
		if err := each(f[0], lr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return err
		}
		if b, err := br.ReadByte(); err != nil || b != '\n' {
			return errors.New("git cat-file: malformed output")
		}
	}
	return nil
}

// linkRepo makes dir/.git a repository holding the mirror's packs (hard
// links: packs never change once written) with HEAD detached at rev.
func (s *Snapshot) linkRepo(ctx context.Context, dir, rev string) error {
	g := &Git{Dir: dir, offline: true}
	if _, err := g.Run(ctx, "init", "-q", "--template="); err != nil {
		return err
	}
	src := filepath.Join(s.dir, "objects", "pack")
	dst := filepath.Join(dir, ".git", "objects", "pack")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("mirror packs: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pack") && !strings.HasSuffix(name, ".idx") {
			continue
		}
		if err := linkOrCopy(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			return fmt.Errorf("link pack %s: %w", name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte(rev+"\n"), 0o644); err != nil {
		return err
	}
	return nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// TreeID returns the id of rev's root tree.
func (s *Snapshot) TreeID(ctx context.Context, rev string) (string, error) {
	out, err := s.git.Run(ctx, "rev-parse", "--verify", "--end-of-options", rev+"^{tree}")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// ReadFile returns the content of the file at p in rev, at most max bytes.
func (s *Snapshot) ReadFile(ctx context.Context, rev, p string, max int64) ([]byte, error) {
	b, err := s.git.Run(ctx, "cat-file", "blob", rev+":"+p)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, max)
	}
	return b, nil
}
