package verdict

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/stopwatch"
)

// Cache is the content-addressed finding cache (app/store implements it
// over SQLite or Postgres): unit results keyed by content, and whole
// per-commit results, so a base commit is scanned once.
type Cache interface {
	CachedUnits(ctx context.Context, keys []string) (map[string][]byte, error)
	PutCachedUnits(ctx context.Context, check, engineKey string, units map[string][]byte, maxRows int) error
	CommitResult(ctx context.Context, repo, sha, check, key string) ([]byte, error)
	PutCommitResult(ctx context.Context, repo, sha, check, key string, result []byte) error
}

// EngineStore keeps the engines learnt (see engines) across processes:
// the CLI keeps them in its cache file next to the units, so a re-scan
// whose units all come from the cache starts no engine at all. What it
// holds must be valid for the running binary (checks/cache keys it by
// the executable).
type EngineStore interface {
	Engines(db time.Time) (map[string]checks.Engine, error)
	PutEngine(db time.Time, check string, e checks.Engine) error
}

// DefaultCacheRows bounds the finding cache.
const DefaultCacheRows = 500_000

// engines remembers the engine of each check (name, versions, rules and DB
// version) as the runner last reported it, so unit keys can be computed
// before a scan. A new DB date forgets them.
type engines struct {
	mu   sync.Mutex
	db   time.Time
	keys map[string]checks.Engine
}

// probeFiles is the tree size from which unknown engine versions are asked
// of the runner before the scan (a scan of an empty directory; one sandbox
// child) rather than learnt from a full scan of the tree.
const probeFiles = 500

// engineKeys returns the engine of each check that is known (learnt from an
// earlier run since the DB date last changed). With probe, the unknown ones
// are asked of the runner with a scan of an empty directory.
func (p *Pipeline) engineKeys(ctx context.Context, names []string, probe bool) (map[string]checks.Engine, error) {
	var db time.Time
	if p.cfg.DBUpdatedAt != nil {
		db = p.cfg.DBUpdatedAt()
	}
	p.eng.mu.Lock()
	defer p.eng.mu.Unlock()
	if !p.eng.db.Equal(db) {
		p.eng.keys = nil
	}
	p.eng.db = db
	var unknown []string
	for _, n := range names {
		if _, ok := p.eng.keys[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 && p.cfg.Engines != nil {
		if stored, err := p.cfg.Engines.Engines(db); err == nil {
			if p.eng.keys == nil {
				p.eng.keys = map[string]checks.Engine{}
			}
			unknown = slices.DeleteFunc(unknown, func(n string) bool {
				e, ok := stored[n]
				if ok {
					p.eng.keys[n] = e
				}
				return ok
			})
		}
	}
	if len(unknown) > 0 && probe {
		dir, err := os.MkdirTemp(p.cfg.WorkDir, "probe-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		resp, err := p.cfg.Runner.Run(ctx, checks.Request{Target: checks.Target{Dir: dir}, Checks: unknown})
		if err != nil {
			return nil, fmt.Errorf("engine versions: %w", err)
		}
		if p.eng.keys == nil {
			p.eng.keys = map[string]checks.Engine{}
		}
		for _, r := range resp.Results {
			p.eng.keys[r.Check] = r.Engine
			if p.cfg.Engines != nil {
				_ = p.cfg.Engines.PutEngine(db, r.Check, r.Engine) // best effort
			}
		}
	}
	out := map[string]checks.Engine{}
	for _, n := range names {
		if k, ok := p.eng.keys[n]; ok {
			out[n] = k
		}
	}
	return out, nil
}

// learnEngine records the engine a run reported; it returns false when it
// differs from what the unit keys were computed with.
func (p *Pipeline) learnEngine(check string, e checks.Engine) bool {
	p.eng.mu.Lock()
	defer p.eng.mu.Unlock()
	if p.eng.keys == nil {
		p.eng.keys = map[string]checks.Engine{}
	}
	old, ok := p.eng.keys[check]
	p.eng.keys[check] = e
	if p.cfg.Engines != nil && (!ok || old != e) {
		_ = p.cfg.Engines.PutEngine(p.eng.db, check, e) // best effort: learnt again next time
	}
	return !ok || old == e
}

// unitEngineKey keys cached units by engine, engine version and data
// (rules, check bundle, vulnerability DB).
func unitEngineKey(e checks.Engine) string { return e.Name + "@" + e.Version + "/" + e.DataVersion }

// treeScan is one tree scanned unit by unit.
type treeScan struct {
	tree  Tree
	dir   string   // where the files to scan are written
	names []string // checks scanned by unit (tree mode)
	// rng, when set, adds the secrets check over a commit range (never
	// cached: it reads the lines the range adds).
	rng *Range
	// target carries the options of every run (custom checks, ignore
	// files); Dir, Paths and revisions are set per run.
	target checks.Target
}

// customBypass: the org's and repository's custom checks are evaluated
// with the iac check, and their findings depend on every file they select
// and on the checks' content, so an iac scan with custom checks neither
// reads nor writes the unit cache (the per-commit cache, keyed with the
// checks' hashes, still applies).
func (ts treeScan) customBypass(check string) bool {
	return check == checks.IaC && len(ts.target.Custom) > 0
}

// scanTree scans a tree with the named checks: units whose results the
// cache holds are not read again; the rest are checked out and scanned in
// one run.
func (p *Pipeline) scanTree(ctx context.Context, log *slog.Logger, ts treeScan) (*checks.Response, error) {
	resp, stale, err := p.scanTreeOnce(ctx, log, ts, true)
	if err == nil && stale {
		// The engine changed under the keys (a DB swap, a new binary):
		// cached units may be stale, so scan everything again.
		log.Info("engine changed during the scan: rescanning without the cache")
		resp, _, err = p.scanTreeOnce(ctx, log, ts, false)
	}
	return resp, err
}

func (p *Pipeline) scanTreeOnce(ctx context.Context, log *slog.Logger, ts treeScan, useCache bool) (*checks.Response, bool, error) {
	took := stopwatch.Start(nil) // the steps, for the debug line
	files, err := ts.tree.Files(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("list files of %s: %w", revName(ts.tree), err)
	}
	t := newTree(files)
	cache := p.cfg.Cache
	var keys map[string]checks.Engine
	if cache != nil && len(ts.names) > 0 {
		if keys, err = p.engineKeys(ctx, ts.names, len(t.files) >= probeFiles); err != nil {
			return nil, false, err
		}
	}
	options := optionsKey(ts.target, false)
	byCheck := map[string][]*unit{}
	var allKeys []string
	for _, c := range ts.names {
		byCheck[c] = t.units(c, p.splitter(c), unitEngineKey(keys[c]), options)
		for _, u := range byCheck[c] {
			allKeys = append(allKeys, u.key)
		}
	}
	took.Mark("list")
	hits := map[string][]byte{}
	if cache != nil && useCache && keys != nil {
		if hits, err = cache.CachedUnits(ctx, allKeys); err != nil {
			log.Warn("finding cache unavailable", slog.String("error", err.Error()))
			hits = map[string][]byte{}
		}
	}
	took.Mark("lookup")
	// What must run: the checks with a missed unit, and the range.
	var run []string
	var missed []*unit
	cached := map[string]map[*unit]*unitResult{}
	for _, c := range ts.names {
		cached[c] = map[*unit]*unitResult{}
		miss := false
		_, known := keys[c]
		for _, u := range byCheck[c] {
			var r unitResult
			if b, ok := hits[u.key]; ok && known && !ts.customBypass(c) && json.Unmarshal(b, &r) == nil {
				cached[c][u] = &r
				continue
			}
			miss = true
			missed = append(missed, u)
		}
		if miss {
			run = append(run, c)
		}
	}
	target := ts.target
	if ts.rng != nil {
		run = append([]string{checks.Secrets}, run...)
		target.HeadRev, target.BaseRev = ts.rng.Head, ts.rng.Base
	}
	resp := &checks.Response{}
	if len(run) > 0 {
		if err := os.RemoveAll(ts.dir); err != nil {
			return nil, false, err
		}
		if err := ts.tree.Checkout(ctx, ts.dir, materializeFiles(missed), ts.rng != nil); err != nil {
			return nil, false, fmt.Errorf("check out %s: %w", revName(ts.tree), err)
		}
		took.Mark("checkout")
		target.Dir = ts.dir
		if resp, err = p.cfg.Runner.Run(ctx, checks.Request{Target: target, Checks: run}); err != nil {
			return nil, false, err
		}
		took.Mark("run")
	}
	stale := false
	out := &checks.Response{Errors: resp.Errors}
	if ts.rng != nil {
		if r := resp.Result(checks.Secrets); r != nil {
			out.Results = append(out.Results, r)
		}
	}
	for _, c := range ts.names {
		units := byCheck[c]
		fresh := resp.Result(c)
		_, known := keys[c]
		if fresh != nil {
			if known && fresh.Engine != keys[c] {
				stale = true
			}
			if !p.learnEngine(c, fresh.Engine) && known {
				stale = true
			}
			if !known {
				// Learnt from this run: key the units with it.
				for i, u := range t.units(c, p.splitter(c), unitEngineKey(fresh.Engine), options) {
					units[i].key = u.key
				}
			}
		}
		if fresh == nil && len(cached[c]) < len(units) {
			continue // the check failed: its error is in resp.Errors
		}
		merged, put := merge(c, units, cached[c], fresh, t.missingFor(p.splitter(c)))
		if cache != nil && fresh != nil && len(put) > 0 && !stale && !ts.customBypass(c) {
			if err := cache.PutCachedUnits(ctx, c, unitEngineKey(fresh.Engine), put, cmp.Or(p.cfg.CacheRows, DefaultCacheRows)); err != nil {
				log.Warn("finding cache not written", slog.String("check", c), slog.String("error", err.Error()))
			}
		}
		if merged.Engine == (checks.Engine{}) && known {
			merged.Engine = keys[c]
		}
		out.Results = append(out.Results, merged)
	}
	if len(out.Errors) == 0 {
		out.Errors = nil
	}
	took.Mark("merge")
	log.Debug("tree scanned", slog.String("rev", ts.tree.Rev()), slog.Int("units", len(allKeys)), slog.Int("cached", len(hits)),
		slog.Int("read", len(missed)), slog.Any("ran", run), slog.Group("took", took.Attrs()...))
	return out, stale, nil
}

// merge assembles a check's result from its cached units and a fresh run
// over the others, and splits the fresh run into unit results to cache.
// When no unit was cached the fresh result is returned as the check made
// it (only the files not at hand are added to its skipped list).
func merge(check string, units []*unit, cached map[*unit]*unitResult, fresh *checks.Result, missing []checks.File) (*checks.Result, map[string][]byte) {
	var skips []checks.Skip
	for _, f := range missing {
		skips = append(skips, checks.Skip{Path: f.Path, Reason: "larger than the fetch size limit: not fetched, not scanned", Limit: true})
	}
	// Split the fresh run by unit.
	split := map[*unit]*unitResult{}
	attributable := true
	if fresh != nil {
		var missed []*unit
		// A check that lists its inputs (dependencies, IaC) counts the
		// files it read; a unit's other files were candidates it passed
		// over, and are not counted as scanned.
		var read map[string]bool
		if len(fresh.Scope.Inputs) > 0 {
			read = map[string]bool{}
			for _, in := range fresh.Scope.Inputs {
				read[inputPath(in)] = true
			}
		}
		for _, u := range units {
			if cached[u] == nil {
				missed = append(missed, u)
				split[u] = &unitResult{Notes: fresh.Scope.Notes}
				for _, f := range u.Files {
					if read == nil || read[f.Path] {
						split[u].Files++
						split[u].Bytes += f.Size
					}
				}
			}
		}
		at := func(p string) *unitResult {
			if u := owner(missed, p); u != nil {
				return split[u]
			}
			if len(missed) == 1 {
				return split[missed[0]]
			}
			return nil
		}
		for _, f := range fresh.Findings {
			if r := at(f.File); r != nil {
				r.Findings = append(r.Findings, f)
			} else {
				attributable = false
			}
		}
		for _, s := range fresh.Suppressed {
			if r := at(s.Finding.File); r != nil {
				r.Suppressed = append(r.Suppressed, s)
			} else {
				attributable = false
			}
		}
		for _, in := range fresh.Scope.Inputs {
			if r := at(inputPath(in)); r != nil {
				r.Inputs = append(r.Inputs, in)
			}
		}
		for _, s := range fresh.Scope.Skipped {
			if r := at(s.Path); r != nil && !slices.Contains(skips, s) {
				r.Skipped = append(r.Skipped, s)
			}
		}
		if len(missed) == 1 && len(fresh.SBOM) > 0 {
			split[missed[0]].SBOM = fresh.SBOM
		}
	}
	put := map[string][]byte{}
	if attributable {
		for u, r := range split {
			if b, err := json.Marshal(r); err == nil {
				put[u.key] = b
			}
		}
	}
	if fresh != nil && len(cached) == 0 {
		res := *fresh
		res.Scope.Skipped = append(slices.Clone(res.Scope.Skipped), skips...)
		return &res, put
	}
	res := &checks.Result{Check: check}
	if fresh != nil {
		res.Engine = fresh.Engine
		if !attributable {
			// Findings no unit owns are kept, just not cached.
			res.Findings, res.Suppressed = fresh.Findings, fresh.Suppressed
			res.Scope.Inputs, res.Scope.Skipped, res.Scope.Notes = fresh.Scope.Inputs, fresh.Scope.Skipped, fresh.Scope.Notes
			split = nil
		}
	}
	var sboms [][]byte
	add := func(r *unitResult) {
		res.Findings = append(res.Findings, r.Findings...)
		res.Suppressed = append(res.Suppressed, r.Suppressed...)
		res.Scope.Inputs = append(res.Scope.Inputs, r.Inputs...)
		res.Scope.Skipped = append(res.Scope.Skipped, r.Skipped...)
		res.Scope.Files += r.Files
		res.Scope.Bytes += r.Bytes
		for _, n := range r.Notes {
			if !slices.Contains(res.Scope.Notes, n) {
				res.Scope.Notes = append(res.Scope.Notes, n)
			}
		}
		if len(r.SBOM) > 0 {
			sboms = append(sboms, r.SBOM)
		}
	}
	for _, u := range units {
		if r := cached[u]; r != nil {
			add(r)
		} else if r := split[u]; r != nil {
			add(r)
		}
	}
	if len(sboms) == 1 {
		res.SBOM = sboms[0]
	}
	slices.SortStableFunc(res.Findings, func(a, b checks.Finding) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.StartLine, b.StartLine), strings.Compare(a.RuleID, b.RuleID))
	})
	slices.Sort(res.Scope.Inputs)
	res.Scope.Inputs = slices.Compact(res.Scope.Inputs)
	res.Scope.Skipped = append(res.Scope.Skipped, skips...)
	if res.Findings == nil {
		res.Findings = []checks.Finding{}
	}
	return res, put
}

// inputPath is the path of a scope input: checks list an input as its
// path, or its path and kind ("Dockerfile (dockerfile)").
func inputPath(in string) string {
	if i := strings.LastIndex(in, " ("); i > 0 && strings.HasSuffix(in, ")") {
		return in[:i]
	}
	return in
}

func revName(t Tree) string {
	if r := t.Rev(); r != "" {
		return r
	}
	return "the working directory"
}
