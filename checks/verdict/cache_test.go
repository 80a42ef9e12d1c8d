package verdict

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// The finding cache: a rescan of the same tree reads nothing, a commit that
// changes one file reads that file only, a new engine or DB version reads
// everything again; the findings and their fingerprints are the same
// whether they come from the cache or from a scan. A file not at hand
// (over the fetch size limit) is listed as skipped.
func TestFindingCacheHitMissInvalidation(t *testing.T) {
	iac := &fakeIaC{version: "db1"}
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := testPipeline(t, iac, newCache(), &db)
	tree := &memTree{rev: "c1", files: map[string]string{
		"a.yaml": "BAD\n", "b.yaml": "ok\n", "src/x.go": "package x\n", "big.yaml": strings.Repeat("y", 4000),
	}, missing: map[string]bool{"big.yaml": true}}
	var custom []checks.CustomCheck
	scan := func() *checks.Result {
		t.Helper()
		before := iac.runs()
		s, err := p.Scan(context.Background(), Request{Head: tree, Checks: []string{checks.IaC}, Custom: custom})
		if err != nil {
			t.Fatal(err)
		}
		if iac.runs() == before {
			iac.mu.Lock()
			iac.reads = append(iac.reads, nil) // not run: read nothing
			iac.mu.Unlock()
		}
		return s.Head.Result(checks.IaC)
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
		t.Errorf("first scan read %v, want a.yaml and b.yaml (big.yaml is not at hand)", got)
	}
	if !slices.ContainsFunc(first.Scope.Skipped, func(s checks.Skip) bool { return s.Path == "big.yaml" && s.Limit }) {
		t.Errorf("big.yaml not listed as a limit hit: %+v", first.Scope.Skipped)
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

	tree.files["b.yaml"] = "BAD as well\n"
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

	// Every ignore file is part of the key: a unit seen before under
	// other ignore files is scanned again.
	for _, name := range checks.TrivyIgnoreFiles {
		tree.files[name] = "BAD\n"
		r := scan()
		if got := iac.lastRead(); !slices.Equal(got, []string{"a.yaml", "b.yaml"}) {
			t.Errorf("after adding %s the scan read %v, want everything", name, got)
		}
		if len(r.Findings) != 0 || len(r.Suppressed) != 2 {
			t.Errorf("with %s: %d findings, %d suppressed; want 0 and 2", name, len(r.Findings), len(r.Suppressed))
		}
		delete(tree.files, name)
	}
}

// The policy's extra secret rules reach every run's target, head and
// base, and are part of every cache key: results found without them are
// not reused for a scan with them, and back.
func TestSecretRulesReachTargetAndKey(t *testing.T) {
	if optionsKey(checks.Target{}, false) == optionsKey(checks.Target{SecretRules: []string{checks.RulesCredentialFiles}}, false) {
		t.Fatal("optionsKey ignores SecretRules")
	}
	file, err := policy.Parse(PolicyPath, []byte("version: 1\nchecks: {secrets: {extra_rules: [credential-files]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	on, err := policy.Resolve(policy.Layer{Source: policy.SourceRepo, File: file})
	if err != nil {
		t.Fatal(err)
	}
	db := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	iac := &fakeIaC{version: "db1"}
	p := testPipeline(t, iac, newCache(), &db)
	base := &memTree{rev: "b1", files: map[string]string{"a.yaml": "old\n"}}
	head := &memTree{rev: "h1", files: map[string]string{"a.yaml": "new\n", "b.yaml": "BAD\n"}}
	for _, tc := range []struct {
		name string
		pol  *policy.Policy
		runs int      // check runs the scan makes (head, base)
		want []string // SecretRules of those runs
	}{
		{"default policy", policy.Default(), 2, nil},
		{"no policy, same trees: cached", nil, 0, nil},
		{"rules on: new keys", on, 2, []string{checks.RulesCredentialFiles}},
		{"rules on again: cached", on, 0, nil},
		{"rules off again: the first results", policy.Default(), 0, nil},
	} {
		before := iac.runs()
		if _, err := p.Scan(context.Background(), Request{Repo: "octo/demo", Head: head, Base: base, Checks: []string{checks.IaC}, Policy: tc.pol}); err != nil {
			t.Fatal(err)
		}
		iac.mu.Lock()
		got := iac.rules[before:]
		iac.mu.Unlock()
		if len(got) != tc.runs {
			t.Errorf("%s: %d runs, want %d", tc.name, len(got), tc.runs)
		}
		for _, r := range got {
			if !slices.Equal(r, tc.want) {
				t.Errorf("%s: target SecretRules %q, want %q", tc.name, r, tc.want)
			}
		}
	}
}
