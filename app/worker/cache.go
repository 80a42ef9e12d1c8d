package worker

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

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/checks"
)

// UnitCache is the content-addressed finding cache (app/store). A Store
// that implements it lets the worker skip units it has already scanned.
type UnitCache interface {
	CachedUnits(ctx context.Context, keys []string) (map[string][]byte, error)
	PutCachedUnits(ctx context.Context, check, engineKey string, units map[string][]byte, maxRows int) error
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
// of the runner before the scan (a scan of an empty directory, one sandbox
// child) rather than learnt from a full scan of the tree.
const probeFiles = 500

// engineKeys returns the engine of each check that is known (learnt from an
// earlier run since the DB date last changed). With probe, the unknown ones
// are asked of the runner with a scan of an empty directory.
func (w *Worker) engineKeys(ctx context.Context, names []string, probe bool) (map[string]checks.Engine, error) {
	var db time.Time
	if w.cfg.DBUpdatedAt != nil {
		db = w.cfg.DBUpdatedAt()
	}
	w.eng.mu.Lock()
	defer w.eng.mu.Unlock()
	if !w.eng.db.Equal(db) {
		w.eng.keys = nil
	}
	w.eng.db = db
	var unknown []string
	for _, n := range names {
		if _, ok := w.eng.keys[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 && probe {
		dir, err := os.MkdirTemp(w.cfg.WorkDir, "probe-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		resp, err := w.cfg.Runner.Run(ctx, checks.Request{Target: checks.Target{Dir: dir}, Checks: unknown})
		if err != nil {
			return nil, fmt.Errorf("engine versions: %w", err)
		}
		if w.eng.keys == nil {
			w.eng.keys = map[string]checks.Engine{}
		}
		for _, r := range resp.Results {
			w.eng.keys[r.Check] = r.Engine
		}
	}
	out := map[string]checks.Engine{}
	for _, n := range names {
		if k, ok := w.eng.keys[n]; ok {
			out[n] = k
		}
	}
	return out, nil
}

// learnEngine records the engine a run reported; it returns false when it
// differs from what the unit keys were computed with.
func (w *Worker) learnEngine(check string, e checks.Engine) bool {
	w.eng.mu.Lock()
	defer w.eng.mu.Unlock()
	if w.eng.keys == nil {
		w.eng.keys = map[string]checks.Engine{}
	}
	old, ok := w.eng.keys[check]
	w.eng.keys[check] = e
	return !ok || old == e
}

// treeScan is one tree scanned unit by unit.
type treeScan struct {
	snap  *gitfetch.Snapshot
	rev   string
	dir   string
	names []string // checks scanned by unit (tree mode)
	// rangeTarget, when set, adds the secrets check over a commit range
	// (never cached: it reads the lines the range adds).
	rangeTarget *checks.Target
	// custom are the org's and repository's custom checks, evaluated with
	// the iac check. Their findings depend on every file they select and
	// on the checks' content, so an iac scan with custom checks neither
	// reads nor writes the unit cache (the per-commit cache, keyed with the
	// checks' hashes, still applies).
	custom []checks.CustomCheck
}

// unitEngineKey keys cached units by engine, engine version and data
// (rules, check bundle, vulnerability DB).
func unitEngineKey(e checks.Engine) string { return e.Name + "@" + e.Version + "/" + e.DataVersion }

// scanTree scans a commit's tree with the named checks: units whose
// results the cache holds are not read again; the rest are materialized
// from the mirror and scanned in one run. The snapshot must stay open.
func (w *Worker) scanTree(ctx context.Context, log *slog.Logger, ts treeScan) (*checks.Response, error) {
	resp, stale, err := w.scanTreeOnce(ctx, log, ts, true)
	if err == nil && stale {
		// The engine changed under the keys (a DB swap, a new binary):
		// cached units may be stale, so scan everything again.
		log.Info("engine changed during the scan: rescanning without the cache")
		resp, _, err = w.scanTreeOnce(ctx, log, ts, false)
	}
	return resp, err
}

func (w *Worker) scanTreeOnce(ctx context.Context, log *slog.Logger, ts treeScan, useCache bool) (*checks.Response, bool, error) {
	entries, err := ts.snap.Tree(ctx, ts.rev)
	if err != nil {
		return nil, false, fmt.Errorf("list tree %s: %w", ts.rev, err)
	}
	rootID, err := ts.snap.TreeID(ctx, ts.rev)
	if err != nil {
		return nil, false, err
	}
	t := newTree(entries, rootID)
	cache, _ := w.cfg.Store.(UnitCache)
	var keys map[string]checks.Engine
	if cache != nil && len(ts.names) > 0 {
		if keys, err = w.engineKeys(ctx, ts.names, len(t.files) >= probeFiles); err != nil {
			return nil, false, err
		}
	}
	byCheck := map[string][]*unit{}
	var allKeys []string
	for _, c := range ts.names {
		for _, u := range t.units(c, unitEngineKey(keys[c])) {
			byCheck[c] = append(byCheck[c], &u)
			allKeys = append(allKeys, u.key)
		}
	}
	hits := map[string][]byte{}
	if cache != nil && useCache && keys != nil {
		if hits, err = cache.CachedUnits(ctx, allKeys); err != nil {
			log.Warn("finding cache unavailable", slog.String("error", err.Error()))
			hits = map[string][]byte{}
		}
	}
	// What must run: the checks with a missed unit, and the range.
	var run []string
	want := map[string]gitfetch.Entry{}
	cached := map[string]map[*unit]*unitResult{}
	for _, c := range ts.names {
		cached[c] = map[*unit]*unitResult{}
		missed := false
		_, known := keys[c]
		bypass := c == checks.IaC && len(ts.custom) > 0
		for _, u := range byCheck[c] {
			var r unitResult
			if b, ok := hits[u.key]; ok && known && !bypass && json.Unmarshal(b, &r) == nil {
				cached[c][u] = &r
				continue
			}
			missed = true
			for _, e := range u.files {
				want[e.Path] = e
			}
		}
		if missed {
			run = append(run, c)
		}
	}
	target := checks.Target{Dir: ts.dir, Custom: ts.custom}
	if ts.rangeTarget != nil {
		run = append([]string{checks.Secrets}, run...)
		target.HeadRev, target.BaseRev = ts.rangeTarget.HeadRev, ts.rangeTarget.BaseRev
	}
	resp := &checks.Response{}
	if len(run) > 0 {
		if err := os.RemoveAll(ts.dir); err != nil {
			return nil, false, err
		}
		for _, e := range t.ignore {
			want[e.Path] = e
		}
		files := make([]gitfetch.Entry, 0, len(want))
		for _, e := range want {
			files = append(files, e)
		}
		if err := ts.snap.Materialize(ctx, ts.dir, ts.rev, files, ts.rangeTarget != nil); err != nil {
			return nil, false, fmt.Errorf("materialize %s: %w", ts.rev, err)
		}
		if resp, err = w.cfg.Runner.Run(ctx, checks.Request{Target: target, Checks: run}); err != nil {
			return nil, false, err
		}
	}
	stale := false
	out := &checks.Response{Errors: resp.Errors}
	if ts.rangeTarget != nil {
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
			if !w.learnEngine(c, fresh.Engine) && known {
				stale = true
			}
			if !known {
				// Learnt from this run: key the units with it.
				for i, u := range t.units(c, unitEngineKey(fresh.Engine)) {
					units[i].key = u.key
				}
			}
		}
		if fresh == nil && len(cached[c]) < len(units) {
			continue // the check failed: its error is in resp.Errors
		}
		merged, put := merge(c, units, cached[c], fresh, t)
		if cache != nil && fresh != nil && len(put) > 0 && !stale && !(c == checks.IaC && len(ts.custom) > 0) {
			if err := cache.PutCachedUnits(ctx, c, unitEngineKey(fresh.Engine), put, cmp.Or(w.cfg.CacheRows, DefaultCacheRows)); err != nil {
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
	log.Debug("tree scanned", slog.String("rev", ts.rev), slog.Int("units", len(allKeys)), slog.Int("cached", len(hits)),
		slog.Int("materialized", len(want)), slog.Any("ran", run))
	return out, stale, nil
}

// merge assembles a check's result from its cached units and a fresh run
// over the others, and splits the fresh run into unit results to cache.
// When no unit was cached the fresh result is returned as the check made
// it (only the files over the fetch limit are added to its skipped list).
func merge(check string, units []*unit, cached map[*unit]*unitResult, fresh *checks.Result, t *tree) (*checks.Result, map[string][]byte) {
	missing := t.missingFor(check)
	var skips []checks.Skip
	for _, e := range missing {
		skips = append(skips, checks.Skip{Path: e.Path, Reason: "larger than the fetch size limit: not fetched, not scanned", Limit: true})
	}
	// Split the fresh run by unit.
	split := map[*unit]*unitResult{}
	attributable := true
	if fresh != nil {
		var missed []*unit
		for _, u := range units {
			if cached[u] == nil {
				missed = append(missed, u)
				split[u] = &unitResult{Notes: fresh.Scope.Notes}
				for _, e := range u.files {
					split[u].Files++
					split[u].Bytes += e.Size
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
			if r := at(in); r != nil {
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
