package worker

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

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/internal/githubtest"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
)

// fakeIaC reports every file whose content holds "BAD" and records which
// files each run read.
type fakeIaC struct {
	mu      sync.Mutex
	version string
	reads   [][]string
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
	err := filepath.WalkDir(t.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !checks.IaCCandidate(p) {
			return err
		}
		rel, _ := filepath.Rel(t.Dir, p)
		read = append(read, rel)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		res.Scope.Files++
		res.Scope.Inputs = append(res.Scope.Inputs, rel)
		if strings.Contains(string(b), "BAD") {
			res.Findings = append(res.Findings, checks.Finding{RuleID: "BAD", File: rel, StartLine: 1,
				Fingerprint: checks.Fingerprint(checks.IaC, "BAD", rel, string(b))})
		}
		return nil
	})
	f.mu.Lock()
	f.reads = append(f.reads, read)
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

// The finding cache: a rescan of the same tree reads nothing, a commit that
// changes one file reads that file only, a new engine or DB version reads
// everything again; the findings and their fingerprints are the same
// whether they come from the cache or from a scan. A file over the fetch
// size limit is listed as skipped.
func TestFindingCacheHitMissInvalidation(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "init", map[string]string{
		"a.yaml": "BAD\n", "b.yaml": "ok\n", "src/x.go": "package x\n", "big.yaml": strings.Repeat("y", 4000),
	})
	fake.AddInstallation(7, "octo", "octo/demo")
	urls, _ := ghclient.ParseURLs(fake.URL())
	f, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	iac := &fakeIaC{version: "db1"}
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	work := t.TempDir()
	w := New(Config{
		Clients: f, Runner: &checks.Local{Checks: []checks.Check{iac}}, Checks: []string{checks.IaC},
		Store: storetest.Open(t, "sqlite"), Logger: slog.New(slog.DiscardHandler), WorkDir: work,
		Mirrors:     &gitfetch.Mirrors{Dir: filepath.Join(work, "mirrors"), MaxBlobSize: 1000},
		DBUpdatedAt: func() time.Time { return db },
	})
	var custom []checks.CustomCheck
	scan := func() *checks.Result {
		t.Helper()
		before := iac.runs()
		head, _, _, err := w.scan(context.Background(), jobs.Scan{
			DeliveryID: "d", InstallationID: 7, Repo: "octo/demo", Kind: jobs.ScanBaseline,
			HeadSHA: repo.Head("main"), HeadRef: "main",
		}, custom)
		if err != nil {
			t.Fatal(err)
		}
		if iac.runs() == before {
			iac.mu.Lock()
			iac.reads = append(iac.reads, nil) // not run: read nothing
			iac.mu.Unlock()
		}
		return head.Result(checks.IaC)
	}
	fingerprints := func(r *checks.Result) []string {
		var out []string
		for _, f := range r.Findings {
			out = append(out, f.File+":"+f.Fingerprint)
		}
		slices.Sort(out)
		return out
	}

	first := scan()
	if got := iac.lastRead(); !slices.Equal(got, []string{"a.yaml", "b.yaml"}) {
		t.Errorf("first scan read %v, want a.yaml and b.yaml (big.yaml stays on the server)", got)
	}
	if !slices.ContainsFunc(first.Scope.Skipped, func(s checks.Skip) bool { return s.Path == "big.yaml" }) {
		t.Errorf("big.yaml not listed as skipped: %+v", first.Scope.Skipped)
	}

	again := scan()
	if got := iac.lastRead(); len(got) != 0 {
		t.Errorf("rescan of the same tree read %v, want nothing", got)
	}
	if !slices.Equal(fingerprints(again), fingerprints(first)) || again.Engine != first.Engine {
		t.Errorf("cached result %v %+v, want %v %+v", fingerprints(again), again.Engine, fingerprints(first), first.Engine)
	}
	if !slices.ContainsFunc(again.Scope.Skipped, func(s checks.Skip) bool { return s.Path == "big.yaml" }) {
		t.Errorf("cached result lost the skipped file: %+v", again.Scope.Skipped)
	}

	repo.Commit("main", "b is bad too", map[string]string{"b.yaml": "BAD as well\n"})
	changed := scan()
	if got := iac.lastRead(); !slices.Equal(got, []string{"b.yaml"}) {
		t.Errorf("after one file changed the scan read %v, want b.yaml only", got)
	}
	if len(changed.Findings) != 2 {
		t.Errorf("findings %v, want a.yaml (cached) and b.yaml (fresh)", fingerprints(changed))
	}

	// A new DB (and with it a new data version) invalidates every unit.
	iac.mu.Lock()
	iac.version = "db2"
	iac.mu.Unlock()
	db = db.Add(24 * time.Hour)
	after := scan()
	if got := iac.lastRead(); !slices.Equal(got, []string{"a.yaml", "b.yaml"}) {
		t.Errorf("after an engine change the scan read %v, want everything", got)
	}
	if after.Engine.DataVersion != "db2" || !slices.Equal(fingerprints(after), fingerprints(changed)) {
		t.Errorf("after engine change: %+v %v", after.Engine, fingerprints(after))
	}

	// Custom checks may select any file and change what iac finds: a scan
	// with them reads every unit and neither uses nor changes the cache.
	custom = []checks.CustomCheck{checks.NewCustomCheck("org:team.rego", checks.OriginOrg, []byte("package custom.team\n"))}
	scan()
	if got := iac.lastRead(); !slices.Equal(got, []string{"a.yaml", "b.yaml"}) {
		t.Errorf("with custom checks the scan read %v, want everything", got)
	}
	custom = nil
	scan()
	if got := iac.lastRead(); len(got) != 0 {
		t.Errorf("after a custom-check scan, the plain rescan read %v, want nothing (cache untouched)", got)
	}
}
