package verdict

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

// memTree is a commit held in memory: content by path; paths in missing
// are listed without content, as a mirror lists a blob over its size limit.
type memTree struct {
	rev     string
	files   map[string]string
	missing map[string]bool
}

func (m *memTree) Rev() string { return m.rev }

func (m *memTree) Files(context.Context) ([]checks.File, error) {
	var out []checks.File
	for p, c := range m.files {
		f := checks.File{Path: p, Mode: "100644", OID: blobID([]byte(c)), Size: int64(len(c))}
		if m.missing[p] {
			f.Size = -1
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b checks.File) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (m *memTree) ReadFile(_ context.Context, p string, max int64) ([]byte, error) {
	c, ok := m.files[p]
	if !ok || m.missing[p] {
		return nil, fs.ErrNotExist
	}
	return readMax(strings.NewReader(c), p, max)
}

func (m *memTree) Checkout(_ context.Context, dir string, files []checks.File, withGit bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(m.files[f.Path]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// memCache is the finding cache in memory.
type memCache struct {
	mu      sync.Mutex
	units   map[string][]byte
	commits map[string][]byte
}

func newCache() *memCache {
	return &memCache{units: map[string][]byte{}, commits: map[string][]byte{}}
}

func (c *memCache) CachedUnits(_ context.Context, keys []string) (map[string][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]byte{}
	for _, k := range keys {
		if b, ok := c.units[k]; ok {
			out[k] = b
		}
	}
	return out, nil
}

func (c *memCache) PutCachedUnits(_ context.Context, _, _ string, units map[string][]byte, _ int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, b := range units {
		c.units[k] = b
	}
	return nil
}

func (c *memCache) CommitResult(_ context.Context, repo, sha, check, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commits[repo+sha+check+key], nil
}

func (c *memCache) PutCommitResult(_ context.Context, repo, sha, check, key string, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits[repo+sha+check+key] = b
	return nil
}

// fakeIaC reports every IaC file whose content holds "BAD" (suppressed when
// it also holds "#ignore:BAD", an inline marker, or when a trivy ignore
// file lists BAD) and records which files each run read.
type fakeIaC struct {
	mu      sync.Mutex
	version string
	reads   [][]string
	rules   [][]string // the SecretRules each run's target carried
	// lastScope is the scope of the last run.
	lastScope checks.Scope
}

func (f *fakeIaC) Name() string { return checks.IaC }
func (f *fakeIaC) Engine() checks.Engine {
	f.mu.Lock()
	defer f.mu.Unlock()
	return checks.Engine{Name: "fake", Version: "v1", DataVersion: f.version}
}

func (f *fakeIaC) Run(_ context.Context, t checks.Target) (*checks.Result, error) {
	res := &checks.Result{Findings: []checks.Finding{}}
	var read []string
	inForce, fromChange := t.IgnoreFilesNamed(checks.TrivyIgnoreFiles...)
	lists := func(files []checks.IgnoreFile) bool {
		for _, i := range files {
			if strings.Contains(string(i.Content), "BAD") {
				return true
			}
		}
		return false
	}
	err := filepath.WalkDir(t.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !checks.IaCCandidate(p) || checks.IsIgnoreFile(filepath.Base(p)) {
			return err
		}
		rel, _ := filepath.Rel(t.Dir, p)
		rel = filepath.ToSlash(rel)
		read = append(read, rel)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		res.Scope.Files++
		res.Scope.Bytes += int64(len(b))
		res.Scope.Inputs = append(res.Scope.Inputs, rel+" (yaml)") // as trivy's checks list them: path (kind)
		if !strings.Contains(string(b), "BAD") {
			return nil
		}
		fd := checks.Finding{RuleID: "BAD", File: rel, StartLine: 1, Severity: checks.SeverityHigh,
			Fingerprint: checks.Fingerprint(checks.IaC, "BAD", rel, "BAD")}
		switch {
		case strings.Contains(string(b), "#ignore:BAD"):
			res.Suppressed = append(res.Suppressed, checks.Suppressed{Finding: fd, Reason: "inline", Via: checks.ViaInline})
		case lists(inForce):
			res.Suppressed = append(res.Suppressed, checks.Suppressed{Finding: fd, Reason: "ignore file", Via: checks.ViaIgnoreFile})
		case lists(fromChange):
			res.Suppressed = append(res.Suppressed, checks.Suppressed{Finding: fd, Reason: "ignore file from the change", Via: checks.ViaIgnoreFile, FromChange: true})
		default:
			res.Findings = append(res.Findings, fd)
		}
		return nil
	})
	f.mu.Lock()
	f.reads = append(f.reads, read)
	f.rules = append(f.rules, t.SecretRules)
	f.lastScope = res.Scope
	f.mu.Unlock()
	return res, err
}

func (f *fakeIaC) lastRead() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reads) == 0 {
		return nil
	}
	r := slices.Clone(f.reads[len(f.reads)-1])
	slices.Sort(r)
	return r
}

func (f *fakeIaC) runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reads)
}

// testPipeline builds a pipeline over the fake iac check.
func testPipeline(t *testing.T, iac *fakeIaC, cache Cache, db *time.Time) *Pipeline {
	t.Helper()
	return New(Config{
		Runner: &checks.Local{Checks: []checks.Check{iac}}, Cache: cache, WorkDir: t.TempDir(),
		Splitters: map[string]checks.Splitter{checks.IaC: iacFiles{}},
		Logger:    slog.New(slog.DiscardHandler), DBUpdatedAt: func() time.Time { return *db },
	})
}

// iacFiles splits the fake iac check's inputs file by file.
type iacFiles struct{}

func (iacFiles) Units(files []checks.File) []checks.Unit {
	var in []checks.File
	for _, f := range files {
		if checks.IaCCandidate(f.Path) && !checks.IsIgnoreFile(f.Path) {
			in = append(in, f)
		}
	}
	return checks.EachFile{}.Units(in)
}

func (iacFiles) MayRead(p string) bool { return checks.IaCCandidate(p) }
