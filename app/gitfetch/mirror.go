package gitfetch

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Defaults of Mirrors.
const (
	// DefaultMirrorBytes caps the mirrors' total size on disk.
	DefaultMirrorBytes = 5 << 30
	// DefaultMaxBlobSize is the largest file fetched with a tree: larger
	// blobs stay on the server and are listed as skipped.
	DefaultMaxBlobSize = 16 << 20
	// DefaultMaxRangeBytes caps the blobs over MaxBlobSize that one range
	// fetches by id (EnsureRange), in all.
	DefaultMaxRangeBytes = 256 << 20
)

// completeMarker is written into a mirror only after a fetch succeeded and
// removed before the next one starts: a mirror without it was left
// half-written (a crash, a full disk) and is rebuilt from scratch.
const completeMarker = "gatehouse-complete"

// Mirrors keeps one bare, partial mirror per repository on the worker's
// disk, so a job fetches only the objects its refs add since the last job.
// The first fetch leaves every blob over MaxBlobSize on the server
// (--filter=blob:limit; a server without filter support sends everything,
// which git handles on its own). Mirrors are locked per repository (flock),
// so concurrent jobs, in this process or another, take turns; the least
// recently used ones are evicted once their total passes MaxBytes.
type Mirrors struct {
	Dir         string
	MaxBytes    int64 // 0: DefaultMirrorBytes
	MaxBlobSize int64 // 0: DefaultMaxBlobSize
	// MaxRangeBytes bounds what EnsureRange fetches by id for one range,
	// compressed while it arrives and uncompressed once it is there
	// (0: DefaultMaxRangeBytes). Blobs asked for by id are not filtered
	// by size on the server, so without it a change adding large files
	// (a fork's, anyone's) would fill the disk before any limit applied.
	MaxRangeBytes int64
	Logger        *slog.Logger

	listingsOnce sync.Once
	listingCache *lru.Cache[string, *listing]
}

// listingsKept is how many commits' tree listings the mirrors keep in
// memory (a listing of a 3,400-file tree is about half a megabyte).
const listingsKept = 16

// listings is the cache of tree listings by mirror and commit (Tree).
func (ms *Mirrors) listings() *lru.Cache[string, *listing] {
	ms.listingsOnce.Do(func() {
		ms.listingCache, _ = lru.New[string, *listing](listingsKept) // errors only on a size < 1
	})
	return ms.listingCache
}

// FetchStats says what a fetch moved.
type FetchStats struct {
	Rebuilt    bool // the mirror was created or rebuilt (first fetch, or half-written)
	NewObjects int  // objects in the packs this fetch added
	Blobs      int  // blobs fetched by id (changed files over the size limit)
}

// Snapshot is a locked mirror with the commits of one job. Close it as soon
// as the files are materialized: other jobs on the repository wait.
type Snapshot struct {
	Head      string
	Base      string
	MergeBase string // merge base of Base and Head; "" without Base
	Stats     FetchStats
	refs      map[string]string
	git       *Git // offline: reads only
	fetcher   *Git // with the token, for blobs fetched by id
	mirrors   *Mirrors
	dir       string
	lock      *fileLock // shared reader lock while open
	// lockPath is the writer lock (fetches), readersPath the readers'
	// lock (repack and eviction take it exclusively).
	lockPath, readersPath string
}

func (ms *Mirrors) maxBlob() int64 { return cmp.Or(ms.MaxBlobSize, DefaultMaxBlobSize) }

func (ms *Mirrors) maxRange() int64 { return cmp.Or(ms.MaxRangeBytes, DefaultMaxRangeBytes) }

func (ms *Mirrors) log() *slog.Logger {
	if ms.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return ms.Logger
}

// key names a repository's mirror on disk (owner/name is case-insensitive).
func key(repo string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(repo)))
	return hex.EncodeToString(sum[:16])
}

// Open brings the repository's mirror up to date with spec's refs and
// commits and returns it open for reading. Fetches take the mirror's writer
// lock (one at a time); an open Snapshot holds a reader lock, which only
// repacking and eviction wait for, so jobs on one repository scan side by
// side. Nothing from the repository runs.
func (ms *Mirrors) Open(ctx context.Context, repo string, spec FetchSpec) (*Snapshot, error) {
	if err := os.MkdirAll(ms.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("mirrors dir: %w", err)
	}
	k := key(repo)
	base := filepath.Join(ms.Dir, k)
	writer, err := lockFile(ctx, base+".lock")
	if err != nil {
		return nil, err
	}
	defer writer.unlock()
	s := &Snapshot{Head: spec.Head, Base: spec.Base, refs: map[string]string{}, mirrors: ms, dir: base + ".git", lockPath: base + ".lock", readersPath: base + ".readers"}
	s.git = &Git{Dir: s.dir, offline: true, log: ms.Logger}
	s.fetcher = &Git{Dir: s.dir, token: spec.Token, log: ms.Logger}
	if err := s.update(ctx, spec); err != nil {
		if !s.Stats.Rebuilt {
			// git's own updates are atomic (a pack is renamed into place,
			// refs are locked): a fetch that failed left a sound mirror.
			_ = s.markComplete()
		}
		return nil, fmt.Errorf("mirror %s: %w", repo, err)
	}
	// Readers before the writer lock goes: no repack or eviction between.
	if s.lock, err = sharedLockFile(ctx, s.readersPath); err != nil {
		return nil, err
	}
	return s, nil
}

// update (re)creates the mirror when needed and fetches spec into it.
func (s *Snapshot) update(ctx context.Context, spec FetchSpec) error {
	marker := filepath.Join(s.dir, completeMarker)
	if _, err := os.Stat(marker); err != nil {
		// Half-written (or new): only when no job reads the old one (a
		// reader may be waiting for the writer lock this job holds).
		readers, err := tryLockFile(s.readersPath)
		if err != nil {
			return err
		}
		if readers == nil {
			return errors.New("mirror is being rebuilt while jobs read it; try again")
		}
		err = os.RemoveAll(s.dir)
		readers.unlock()
		if err != nil {
			return fmt.Errorf("remove half-written mirror: %w", err)
		}
		s.Stats.Rebuilt = true
		if err := s.create(ctx, spec.CloneURL); err != nil {
			return err
		}
	} else if _, err := s.git.Run(ctx, "config", "remote.origin.url", spec.CloneURL); err != nil {
		return err
	}
	// From here until the marker is back, a crash leaves a mirror the next
	// job rebuilds.
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mark mirror: %w", err)
	}
	before, err := packs(s.dir)
	if err != nil {
		return err
	}
	var refspecs []string
	for _, r := range spec.Refs {
		refspecs = append(refspecs, "+"+r+":"+localRef(r))
	}
	if len(refspecs) > 0 {
		if err := s.fetch(ctx, refspecs, nil); err != nil {
			return err
		}
	}
	for _, r := range spec.Refs {
		out, err := s.git.Run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", localRef(r)+"^{commit}")
		if err != nil {
			return fmt.Errorf("ref %s not fetched: %w", r, err)
		}
		s.refs[r] = strings.TrimSpace(string(out))
	}
	for _, sha := range []string{spec.Head, spec.Base} {
		if sha == "" || s.hasCommit(ctx, sha) {
			continue
		}
		if err := s.fetch(ctx, []string{sha}, nil); err != nil {
			return fmt.Errorf("commit %s: %w", sha, err)
		}
	}
	if spec.Base != "" {
		if out, err := s.git.Run(ctx, "merge-base", spec.Base, spec.Head); err == nil {
			s.MergeBase = strings.TrimSpace(string(out))
		}
	}
	if err := s.compact(ctx); err != nil {
		return err
	}
	after, err := packs(s.dir)
	if err != nil {
		return err
	}
	for _, p := range after {
		if !slices.Contains(before, p) {
			n, err := packObjects(filepath.Join(s.dir, "objects", "pack", p+".idx"))
			if err != nil {
				return err
			}
			s.Stats.NewObjects += n
		}
	}
	return s.markComplete()
}

func (s *Snapshot) markComplete() error {
	if err := os.WriteFile(filepath.Join(s.dir, completeMarker), []byte("ok\n"), 0o600); err != nil {
		return fmt.Errorf("mark mirror: %w", err)
	}
	return nil
}

// localRef is where a remote ref is kept in the mirror: refs/gh/<rest>.
func localRef(ref string) string {
	return "refs/gh/" + strings.TrimPrefix(ref, "refs/")
}

// create initialises an empty bare partial mirror of url.
func (s *Snapshot) create(ctx context.Context, url string) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create mirror: %w", err)
	}
	if _, err := s.git.Run(ctx, "init", "-q", "--bare", "--template="); err != nil {
		return err
	}
	for _, kv := range [][2]string{
		{"core.repositoryformatversion", "1"},
		{"extensions.partialClone", "origin"},
		{"remote.origin.url", url},
		{"remote.origin.promisor", "true"},
		{"remote.origin.partialclonefilter", s.filter()},
		// Every fetch stays a pack (never exploded into loose objects), so
		// a scan's repository is a handful of hard links.
		{"fetch.unpackLimit", "1"},
		{"transfer.unpackLimit", "1"},
	} {
		if _, err := s.git.Run(ctx, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Snapshot) filter() string { return fmt.Sprintf("blob:limit=%d", s.mirrors.maxBlob()) }

// fetch fetches refspecs (or, with ids, the objects named on stdin) from
// origin. --filter applies to what the refs reach; objects asked for by id
// come whatever their size (fetchCapped bounds them).
func (s *Snapshot) fetch(ctx context.Context, refspecs []string, ids []string) error {
	args := []string{"fetch", "-q", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", "--no-auto-gc", "--no-auto-maintenance"}
	if ids != nil {
		args = append(args, "--filter=blob:none", "--stdin", "origin")
		_, err := s.fetcher.RunInput(ctx, []byte(strings.Join(ids, "\n")+"\n"), args...)
		return err
	}
	args = append(args, "--filter="+s.filter(), "origin")
	_, err := s.fetcher.Run(ctx, append(args, refspecs...)...)
	return err
}

func (s *Snapshot) hasCommit(ctx context.Context, sha string) bool {
	_, err := s.git.Run(ctx, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// maxPacks is how many packs a mirror collects before they are repacked
// into one (each fetch adds one).
const maxPacks = 32

// compact repacks the mirror when fetches have piled up packs. Unreachable
// objects (force-pushed pull requests) go with it.
func (s *Snapshot) compact(ctx context.Context) error {
	ps, err := packs(s.dir)
	if err != nil || len(ps) <= maxPacks {
		return err
	}
	readers, err := tryLockFile(s.readersPath)
	if err != nil || readers == nil {
		return err // jobs read the packs: next time
	}
	defer readers.unlock()
	if _, err := s.git.Run(ctx, "repack", "-a", "-d", "-q"); err != nil {
		return fmt.Errorf("repack mirror: %w", err)
	}
	return nil
}

// Ref returns the commit a ref of the spec pointed to when it was fetched.
func (s *Snapshot) Ref(ref string) string { return s.refs[ref] }

// MergeBaseWith returns the merge base of the head and rev.
func (s *Snapshot) MergeBaseWith(ctx context.Context, rev string) (string, error) {
	out, err := s.git.Run(ctx, "merge-base", rev, s.Head)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Diff returns the unified diff between from and to as GitHub shows it on a
// pull request (see Checkout.Diff). Both sides' blobs must be in the mirror:
// call EnsureRange first. Every file is diffed as text: a "-diff" line the
// change adds to .gitattributes must not hide its lines from the reporter
// (which findings sit on changed lines) any more than from the secrets
// check.
func (s *Snapshot) Diff(ctx context.Context, from, to string) ([]byte, error) {
	return s.git.Run(ctx, "diff", "-M", "--text", "--no-color", "--no-ext-diff", "--no-textconv", "-U3", from, to, "--")
}

// Close releases the reader lock, marks the mirror's use (LRU) and evicts
// the least recently used mirrors over the size cap.
func (s *Snapshot) Close() {
	if s.lock == nil {
		return
	}
	now := time.Now()
	_ = os.Chtimes(filepath.Join(s.dir, completeMarker), now, now)
	s.lock.unlock()
	s.lock = nil
	s.mirrors.evict(s.dir)
}

// packs lists the mirror's pack names (without extension).
func packs(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "objects", "pack"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".idx"); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

// packObjects reads the object count of a version 2 pack index: the last
// entry of its fan-out table.
func packObjects(idx string) (int, error) {
	f, err := os.Open(idx)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var b [4]byte
	if _, err := f.ReadAt(b[:], 8+255*4); err != nil {
		return 0, fmt.Errorf("read %s: %w", idx, err)
	}
	return int(binary.BigEndian.Uint32(b[:])), nil
}

// evict removes the least recently used mirrors (never keep, never one in
// use) until the total is under the cap.
func (ms *Mirrors) evict(keep string) {
	limit := cmp.Or(ms.MaxBytes, DefaultMirrorBytes)
	entries, err := os.ReadDir(ms.Dir)
	if err != nil {
		return
	}
	type mirror struct {
		dir  string
		used time.Time
		size int64
	}
	var all []mirror
	var total int64
	for _, e := range entries {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), ".git") {
			continue
		}
		dir := filepath.Join(ms.Dir, e.Name())
		m := mirror{dir: dir, size: dirSize(dir)}
		if fi, err := os.Stat(filepath.Join(dir, completeMarker)); err == nil {
			m.used = fi.ModTime()
		}
		total += m.size
		all = append(all, m)
	}
	if total <= limit {
		return
	}
	slices.SortFunc(all, func(a, b mirror) int { return a.used.Compare(b.used) })
	for _, m := range all {
		if total <= limit {
			return
		}
		if m.dir == keep {
			continue
		}
		lock, err := tryLockFile(strings.TrimSuffix(m.dir, ".git") + ".lock")
		if err != nil || lock == nil {
			continue // in use: next time
		}
		readers, err := tryLockFile(strings.TrimSuffix(m.dir, ".git") + ".readers")
		if err != nil || readers == nil {
			lock.unlock()
			continue
		}
		// Unmarked first: a crash halfway leaves a mirror that is rebuilt.
		_ = os.Remove(filepath.Join(m.dir, completeMarker))
		if err := os.RemoveAll(m.dir); err == nil {
			total -= m.size
			ms.log().Info("git mirror evicted", slog.String("dir", m.dir), slog.Int64("bytes", m.size))
		}
		readers.unlock()
		lock.unlock()
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
