package verdict

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// A change is judged against its base: findings the base had are
// existing; the base's ignore files are in force on both trees; what the
// change adds to them, and inline markers the base did not have, are
// suppressions from the change, which wait for an approval by default and
// apply once one is given for exactly that set.
func TestChangeCannotWeakenItsOwnGate(t *testing.T) {
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := &memTree{rev: "b1", files: map[string]string{
		"old.yaml":      "BAD\n",
		"allowed.yaml":  "BAD #ignore:BAD\n",
		".trivyignore":  "# nothing yet\n",
		".github/x.yml": "ok\n",
	}}
	for _, tc := range []struct {
		name         string
		head         map[string]string
		wantBlocking []string // files of blocking findings
		wantPending  []string
		wantExisting []string
	}{
		{
			name: "a new finding blocks; the base's blocks not (existing)",
			head: map[string]string{"new.yaml": "BAD\n"}, wantBlocking: []string{"new.yaml"}, wantExisting: []string{"old.yaml"},
		},
		{
			name: "an inline marker the change adds waits for approval",
			head: map[string]string{"new.yaml": "BAD #ignore:BAD\n"}, wantBlocking: []string{"new.yaml"}, wantPending: []string{"new.yaml"}, wantExisting: []string{"old.yaml"},
		},
		{
			name: "an ignore-file line the change adds waits for approval, for every finding it suppresses",
			head: map[string]string{"new.yaml": "BAD\n", ".trivyignore": "BAD\n"}, wantBlocking: []string{"new.yaml"}, wantPending: []string{"new.yaml", "old.yaml"},
			wantExisting: []string{"old.yaml"},
		},
		{
			name: "an inline marker the base had stays in force",
			head: map[string]string{"other.yaml": "ok\n"}, wantExisting: []string{"old.yaml"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iac := &fakeIaC{version: "db1"}
			p := testPipeline(t, iac, newCache(), &db)
			head := &memTree{rev: "h1", files: map[string]string{}}
			for k, v := range base.files {
				head.files[k] = v
			}
			for k, v := range tc.head {
				head.files[k] = v
			}
			s, err := p.Scan(context.Background(), Request{Repo: "octo/demo", Head: head, Base: base, Checks: []string{checks.IaC}})
			if err != nil {
				t.Fatal(err)
			}
			pol, _ := policy.Resolve()
			dec := Decide(Input{Scanned: s, Policy: pol, Now: db})
			v := dec.Verdicts[0]
			var blocking, pending, existing []string
			for _, f := range v.Findings {
				if f.Blocking {
					blocking = append(blocking, f.File)
				}
				if f.Status == checks.StatusExisting {
					existing = append(existing, f.File)
				}
			}
			for _, sp := range v.Pending {
				pending = append(pending, sp.Finding.File)
			}
			for _, l := range []*[]string{&blocking, &pending, &existing} {
				slices.Sort(*l)
			}
			if !slices.Equal(blocking, tc.wantBlocking) || !slices.Equal(pending, tc.wantPending) || !slices.Equal(existing, tc.wantExisting) {
				t.Errorf("blocking %v pending %v existing %v; want %v %v %v", blocking, pending, existing, tc.wantBlocking, tc.wantPending, tc.wantExisting)
			}
			if (dec.FromChange != "") != (len(tc.wantPending) > 0) {
				t.Fatalf("digest %q with pending %v", dec.FromChange, tc.wantPending)
			}
			if len(tc.wantPending) == 0 {
				return
			}
			if v.Conclusion != checks.ConclusionFailure || !strings.Contains(v.Title, "pending approval") {
				t.Errorf("pending: %s %q", v.Conclusion, v.Title)
			}
			// An approval of another set changes nothing; of this set, it
			// applies the suppressions and names the approver.
			other := Decide(Input{Scanned: s, Policy: pol, Now: db, Approvals: []Approval{{By: "lead", Digest: "other"}}})
			if other.Verdicts[0].Conclusion != checks.ConclusionFailure {
				t.Errorf("an approval of another set applied: %s", other.Verdicts[0].Conclusion)
			}
			ok := Decide(Input{Scanned: s, Policy: pol, Now: db, Approvals: []Approval{{By: "lead", Digest: dec.FromChange}}})
			av := ok.Verdicts[0]
			if len(av.Pending) != 0 || slices.ContainsFunc(av.Findings, func(f checks.Evaluated) bool { return f.Blocking && f.File != "new.yaml" }) {
				t.Errorf("approved: pending %v findings %v", av.Pending, av.Findings)
			}
			if !slices.ContainsFunc(av.Suppressed, func(s checks.Suppressed) bool {
				return s.ApprovedBy == "lead" && strings.Contains(s.Reason, "approved by @lead")
			}) {
				t.Errorf("approved suppressions do not name the approver: %+v", av.Suppressed)
			}
			// from_change: allow applies them without approval; deny never.
			for _, mode := range []string{"allow", "deny"} {
				f, err := policy.Parse("p.yml", []byte("version: 1\nsuppressions:\n  from_change: "+mode+"\n"))
				if err != nil {
					t.Fatal(err)
				}
				mp, _ := policy.Resolve(policy.Layer{Source: policy.SourceRepo, File: f})
				md := Decide(Input{Scanned: s, Policy: mp, Now: db, Approvals: []Approval{{By: "lead", Digest: dec.FromChange}}})
				n := 0
				for _, f := range md.Verdicts[0].Findings {
					if f.Unapplied != "" {
						n++
					}
				}
				if (mode == "allow") != (n == 0) || len(md.Verdicts[0].Pending) != 0 {
					t.Errorf("from_change %s: %d unapplied, pending %v", mode, n, md.Verdicts[0].Pending)
				}
			}
		})
	}
}

// The same scan is the same key: base results come from the per-commit
// cache on the next push, and head units from the unit cache.
func TestBaseResultsAreCachedPerCommit(t *testing.T) {
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	iac := &fakeIaC{version: "db1"}
	p := testPipeline(t, iac, newCache(), &db)
	base := &memTree{rev: "b1", files: map[string]string{"old.yaml": "BAD\n"}}
	head := &memTree{rev: "h1", files: map[string]string{"old.yaml": "BAD\n", "new.yaml": "ok\n"}}
	for i := range 2 {
		before := iac.runs()
		s, err := p.Scan(context.Background(), Request{Repo: "octo/demo", Head: head, Base: base, Checks: []string{checks.IaC}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && iac.runs() != before {
			t.Errorf("second scan of the same change ran the check %d times, want 0", iac.runs()-before)
		}
		if s.Base.Result(checks.IaC) == nil || !slices.Equal(s.Changed, []string{"new.yaml"}) {
			t.Errorf("base %+v changed %v", s.Base, s.Changed)
		}
	}
}

// The policy file and custom checks are read from the base: a change that
// edits them is told the edit takes effect after merge.
func TestChangeNotes(t *testing.T) {
	pol, _ := policy.Resolve()
	s := &Scanned{Checks: []string{checks.Secrets, checks.IaC},
		Head: &checks.Response{Results: []*checks.Result{{Check: checks.Secrets}, {Check: checks.IaC}}},
		Changed: []string{
			ChecksDir + "/team.rego", ChecksDir + "/team_test.rego", ChecksDir + "/sub/x.rego",
			PolicyPath, "k8s/web.yaml", ChecksDir + "/README.md",
		}}
	dec := Decide(Input{Scanned: s, Policy: pol})
	for _, v := range dec.Verdicts {
		notes := strings.Join(v.Notes, "\n")
		if !strings.Contains(notes, "edits "+PolicyPath) {
			t.Errorf("%s: no policy note in %q", v.Check, notes)
		}
		wantChecks := v.Check == checks.IaC
		if got := strings.Contains(notes, "custom checks ("+ChecksDir+"/team.rego)"); got != wantChecks {
			t.Errorf("%s: custom check note %v, want %v: %q", v.Check, got, wantChecks, notes)
		}
	}
}

// A baseline's results are those of its commit as a base: the first pull
// request on top of it scans only its own tree.
func TestBaselineServesAsBase(t *testing.T) {
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	iac := &fakeIaC{version: "db1"}
	cache := newCache()
	p := testPipeline(t, iac, cache, &db)
	base := &memTree{rev: "b1", files: map[string]string{"old.yaml": "BAD\n", ".trivyignore": "OTHER\n"}}
	head := &memTree{rev: "h1", files: map[string]string{"old.yaml": "BAD\n", "new.yaml": "BAD\n", ".trivyignore": "OTHER\n"}}
	if _, err := p.Scan(context.Background(), Request{Repo: "octo/demo", Head: base, Checks: []string{checks.IaC}}); err != nil {
		t.Fatal(err)
	}
	if len(cache.commits) != 1 {
		t.Fatalf("baseline stored %d commit results, want 1", len(cache.commits))
	}
	for k := range cache.commits {
		if !strings.HasPrefix(k, "octo/demob1"+checks.IaC) {
			t.Errorf("baseline stored %q, want the result of octo/demo@b1 only", k)
		}
	}
	before := iac.runs()
	s, err := p.Scan(context.Background(), Request{Repo: "octo/demo", Head: head, Base: base, Checks: []string{checks.IaC}})
	if err != nil {
		t.Fatal(err)
	}
	if got := iac.runs() - before; got != 1 {
		t.Errorf("the pull request ran the check %d times, want 1 (its head; the base came from the baseline)", got)
	}
	if got := iac.lastRead(); !slices.Equal(got, []string{"new.yaml"}) {
		t.Errorf("head scan read %v, want only the new file", got)
	}
	br := s.Base.Result(checks.IaC)
	if br == nil || len(br.Findings) != 1 || br.Findings[0].File != "old.yaml" {
		t.Fatalf("base result from the baseline: %+v", br)
	}
}

// memEngines is an EngineStore in memory.
type memEngines struct {
	mu   sync.Mutex
	keys map[string]checks.Engine
	puts int
}

func (m *memEngines) Engines(db time.Time) (map[string]checks.Engine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]checks.Engine{}
	for k, e := range m.keys {
		if d, c, _ := strings.Cut(k, "|"); d == db.String() {
			out[c] = e
		}
	}
	return out, nil
}

func (m *memEngines) PutEngine(db time.Time, check string, e checks.Engine) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[db.String()+"|"+check] = e
	m.puts++
	return nil
}

// With an engine store (the CLI's cache file), a new process whose units
// are all cached runs no engine; a new DB date does.
func TestEngineStoreSparesTheEngines(t *testing.T) {
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cache, store := newCache(), &memEngines{keys: map[string]checks.Engine{}}
	tree := &memTree{files: map[string]string{"a.yaml": "BAD\n", "b.yaml": "ok\n"}}
	newPipeline := func(iac *fakeIaC) *Pipeline {
		return New(Config{
			Runner: &checks.Local{Checks: []checks.Check{iac}}, Cache: cache, Engines: store, WorkDir: t.TempDir(),
			Splitters: map[string]checks.Splitter{checks.IaC: iacFiles{}}, DBUpdatedAt: func() time.Time { return db },
		})
	}
	scan := func(iac *fakeIaC) *Scanned {
		t.Helper()
		s, err := newPipeline(iac).Scan(context.Background(), Request{Head: tree, Checks: []string{checks.IaC}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := &fakeIaC{version: "db1"}
	scan(first)
	if first.runs() != 1 || store.puts != 1 {
		t.Fatalf("first scan: %d runs, %d engines stored", first.runs(), store.puts)
	}
	again := &fakeIaC{version: "db1"}
	s := scan(again)
	if again.runs() != 0 {
		t.Errorf("a re-scan of the same tree in a new process ran the engine %d times", again.runs())
	}
	if r := s.Head.Result(checks.IaC); r == nil || len(r.Findings) != 1 || r.Engine.DataVersion != "db1" {
		t.Errorf("re-scan from the cache: %+v", r)
	}
	// What the check run says it looked at is the same from the cache.
	fresh, cached := first.lastScope, s.Head.Result(checks.IaC).Scope
	if cached.Files != fresh.Files || cached.Bytes != fresh.Bytes || !slices.Equal(cached.Inputs, fresh.Inputs) {
		t.Errorf("scope from the cache %+v, from the scan %+v", cached, fresh)
	}
	db = db.Add(24 * time.Hour)
	newDB := &fakeIaC{version: "db2"}
	scan(newDB)
	if newDB.runs() == 0 {
		t.Error("a new DB date served units keyed by the old one")
	}
}

// The sandbox user must reach the checkouts under the work dir, even when
// something else made that dir first, private (the server's mirrors live
// under it); the probe of engine versions scans a directory there too.
func TestWorkDirReachable(t *testing.T) {
	work := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(filepath.Join(work, "mirrors"), 0o700); err != nil {
		t.Fatal(err)
	}
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(Config{
		Runner: &checks.Local{Checks: []checks.Check{&fakeIaC{version: "db1"}}}, Cache: newCache(), WorkDir: work,
		Splitters: map[string]checks.Splitter{checks.IaC: iacFiles{}}, DBUpdatedAt: func() time.Time { return db },
	})
	if _, err := p.Scan(context.Background(), Request{Head: &memTree{files: map[string]string{"a.yaml": "ok\n"}}, Checks: []string{checks.IaC}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(work)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o001 == 0 {
		t.Errorf("work dir %v: the sandbox user cannot traverse it", st.Mode().Perm())
	}
}
