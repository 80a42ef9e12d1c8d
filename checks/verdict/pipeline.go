// Package verdict is gatehouse's one verdict pipeline: from the trees of a
// change to the verdicts on it. `gatehouse scan` and the server's worker
// both call it, so they reach the same verdict by the same code.
//
// Scan plans the checks' units from the trees' file lists (checks.Splitter
// per engine), reads what the content-addressed cache does not hold,
// scans the head (and the base, to tell new findings from existing ones)
// through a checks.Runner (sandboxed or in-process, under the same
// checks.Limits), with the ignore files of the base in force and the
// change's own edits to them marked as suppressions from the change.
// Decide applies the policy to what Scan found: it is pure, so a stored
// scan can be judged again (an approval) without scanning.
package verdict

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// Config wires a Pipeline.
type Config struct {
	// Runner runs the checks: a sandbox.Runner in the server, a
	// bounded.Runner in `gatehouse scan`.
	Runner checks.Runner
	// Splitters plan each check's units (checks/registry.Splitters); a
	// check without one is scanned as a whole tree.
	Splitters map[string]checks.Splitter
	// Cache is the finding cache; nil scans everything every time.
	Cache     Cache
	CacheRows int // bound of the cache (0: DefaultCacheRows)
	// Engines, when set, keeps the engines learnt across processes.
	Engines EngineStore
	// WorkDir holds the scratch directories of scans (default: the
	// system's temporary directory).
	WorkDir string
	// DBUpdatedAt reports the vulnerability DB's date: a new date forgets
	// the engine versions learnt so far.
	DBUpdatedAt func() time.Time
	Logger      *slog.Logger
}

// Pipeline scans trees and decides verdicts. It is safe for concurrent
// use; the server keeps one for all its jobs.
type Pipeline struct {
	cfg Config
	eng engines
}

// New builds a Pipeline.
func New(cfg Config) *Pipeline {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	return &Pipeline{cfg: cfg}
}

func (p *Pipeline) splitter(check string) checks.Splitter {
	if sp, ok := p.cfg.Splitters[check]; ok {
		return sp
	}
	return checks.WholeTree{Name: check}
}

// Request is one scan of a change.
type Request struct {
	// Repo names the repository in the per-commit cache of base results
	// ("" keeps base results out of it).
	Repo string
	// Head is the revision judged.
	Head Tree
	// Base is what Head is compared with, and where the ignore files in
	// force come from; nil when there is nothing to compare with (a
	// baseline, a plain directory): every finding is new and Head's own
	// ignore files are in force.
	Base Tree
	// Range, when set, has the secrets check read every line the range's
	// commits add (history) instead of Head's files.
	Range *Range
	// Checks are the checks to run, in report order.
	Checks []string
	// Custom are the org's and repository's custom checks (read from the
	// base, never from the change), run with the iac check on both trees.
	Custom []checks.CustomCheck
	// Policy is the resolved policy the change is judged by (nil: none
	// could be read). Scan takes from it what changes what the engines
	// find (checks.secrets.extra_rules: checks.Target.SecretRules), so
	// the server and `gatehouse scan` set it the same way.
	Policy *policy.Policy
	// Logger carries the job's attributes (delivery, repo, sha).
	Logger *slog.Logger
}

// Scanned is what a scan found: the input of Decide, stored as it is so a
// verdict can be decided again without scanning.
type Scanned struct {
	Checks []string         `json:"checks"`
	Head   *checks.Response `json:"head"`
	// Base holds the base's results (tree checks only: secrets compare by
	// commit range); nil when there was no base.
	Base *checks.Response `json:"base,omitempty"`
	// Changed lists the files Head adds, changes or deletes relative to
	// Base.
	Changed []string `json:"changed,omitempty"`
}

// Scan runs the checks on the request's trees. An error means the scan
// could not be made (a tree unreadable, the runner down): retry. A check
// that failed is no error: Head.Errors says why, and Decide fails it by
// the policy's on_error.
func (p *Pipeline) Scan(ctx context.Context, req Request) (*Scanned, error) {
	log := cmp.Or(req.Logger, p.cfg.Logger)
	// 0711 and 0755: the sandboxed scanner runs as an unprivileged user
	// and reads the checkout; nobody can list the work dir itself.
	if err := searchable(p.cfg.WorkDir); err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	scratch, err := os.MkdirTemp(p.cfg.WorkDir, "scan-")
	if err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	defer os.RemoveAll(scratch)
	if err := os.Chmod(scratch, 0o755); err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	head := memo(req.Head)
	var base *memoTree
	if req.Base != nil {
		base = memo(req.Base)
	}
	ign, err := p.ignoreFiles(ctx, head, base)
	if err != nil {
		return nil, err
	}
	var treeChecks []string
	for _, c := range req.Checks {
		if c != checks.Secrets || req.Range == nil {
			treeChecks = append(treeChecks, c)
		}
	}
	rules := secretRules(req.Policy)
	headScan := treeScan{tree: head, dir: scratch + "/head", names: treeChecks, rng: req.Range,
		target: checks.Target{Custom: req.Custom, Ignore: ign.head, SecretRules: rules}}
	if !slices.Contains(req.Checks, checks.Secrets) {
		headScan.rng = nil
	}
	out := &Scanned{Checks: slices.Clone(req.Checks)}
	if out.Head, err = p.scanTree(ctx, log, headScan); err != nil {
		return nil, fmt.Errorf("scan %s: %w", revName(head), err)
	}
	if base == nil {
		// A baseline (a push to the default branch, an install): its
		// results are those of the commit as a base, so the first pull
		// request on top of it does not scan its base again.
		p.putCommitResults(ctx, log, req.Repo, headScan, out.Head, treeChecks)
	}
	if base != nil {
		baseScan := treeScan{tree: base, dir: scratch + "/base", names: treeChecks,
			target: checks.Target{Custom: req.Custom, Ignore: ign.base, SecretRules: rules}}
		if out.Base, err = p.scanBase(ctx, log, req.Repo, baseScan, out.Head); err != nil {
			return nil, fmt.Errorf("scan base %s: %w", revName(base), err)
		}
		if out.Changed, err = changedFiles(ctx, head, base); err != nil {
			return nil, err
		}
	}
	markFromChange(out, req.Range != nil)
	for _, r := range out.Head.Results {
		r.Scope.Skipped = append(r.Scope.Skipped, ign.skipsFor(r.Check)...)
	}
	return out, nil
}

// secretRules is the policy's checks.secrets.extra_rules (none without a
// policy).
func secretRules(pol *policy.Policy) []string {
	if pol == nil {
		return nil
	}
	cp, _ := pol.Check(checks.Secrets)
	return cp.ExtraRules
}

// scanBase scans the base's tree checks, reading whole results the
// per-commit cache holds for it. A check whose head scan failed has no
// engine key to match and is always rescanned.
func (p *Pipeline) scanBase(ctx context.Context, log *slog.Logger, repo string, ts treeScan, head *checks.Response) (*checks.Response, error) {
	out := &checks.Response{}
	var missing []string
	key := func(e checks.Engine) string { return commitKey(ts, e) }
	for _, c := range ts.names {
		hr := head.Result(c)
		if p.cfg.Cache == nil || repo == "" || hr == nil || ts.tree.Rev() == "" {
			missing = append(missing, c)
			continue
		}
		b, err := p.cfg.Cache.CommitResult(ctx, repo, ts.tree.Rev(), c, key(hr.Engine))
		var r checks.Result
		if err != nil || b == nil || json.Unmarshal(b, &r) != nil {
			missing = append(missing, c)
			continue
		}
		out.Results = append(out.Results, &r)
	}
	if len(missing) == 0 {
		return out, nil
	}
	ts.names = missing
	fresh, err := p.scanTree(ctx, log, ts)
	if err != nil {
		return nil, err
	}
	p.putCommitResults(ctx, log, repo, ts, fresh, missing)
	out.Results = append(out.Results, fresh.Results...)
	for c, e := range fresh.Errors {
		if out.Errors == nil {
			out.Errors = map[string]string{}
		}
		out.Errors[c] = e
	}
	return out, nil
}

// searchable makes dir (creating it) traversable by the sandbox user:
// 0711, nobody can list it. Another part of the server may have made it
// first, 0700 (the mirrors live under the same work dir).
func searchable(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o011 != 0o011 {
		return os.Chmod(dir, st.Mode().Perm()|0o011)
	}
	return nil
}

// commitKey keys a commit's whole result of a check: the engine, and the
// options the tree was scanned with (its ignore files in force, custom
// checks).
func commitKey(ts treeScan, e checks.Engine) string {
	return unitEngineKey(e) + "/" + optionsKey(ts.target, true)[:16]
}

// putCommitResults keeps the tree checks' results of a commit scanned as
// a base, or as a baseline (no base: its own ignore files in force, as
// when it is a base).
func (p *Pipeline) putCommitResults(ctx context.Context, log *slog.Logger, repo string, ts treeScan, resp *checks.Response, names []string) {
	if p.cfg.Cache == nil || repo == "" || ts.tree.Rev() == "" {
		return
	}
	for _, r := range resp.Results {
		if !slices.Contains(names, r.Check) {
			continue // the range's secrets result reads history, not the tree
		}
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if err := p.cfg.Cache.PutCommitResult(ctx, repo, ts.tree.Rev(), r.Check, commitKey(ts, r.Engine), b); err != nil {
			log.Warn("commit result not cached", slog.String("sha", ts.tree.Rev()), slog.String("error", err.Error()))
		}
	}
}

// changedFiles lists the files head adds, changes or deletes against base.
func changedFiles(ctx context.Context, head, base *memoTree) ([]string, error) {
	hf, err := head.Files(ctx)
	if err != nil {
		return nil, err
	}
	bf, err := base.Files(ctx)
	if err != nil {
		return nil, err
	}
	before := map[string]checks.File{}
	for _, f := range bf {
		before[f.Path] = f
	}
	var out []string
	for _, f := range hf {
		if b, ok := before[f.Path]; !ok || b.OID != f.OID || b.Mode != f.Mode {
			out = append(out, f.Path)
		}
		delete(before, f.Path)
	}
	for p := range before {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// markFromChange marks the inline suppressions the change brings: in a
// commit range every one (its lines are added by the range), in a tree one
// the base does not have for the same finding. A suppression the base had
// is in force; anything else is the change weakening its own gate.
func markFromChange(s *Scanned, rangeScan bool) {
	for _, r := range s.Head.Results {
		var had map[string]bool
		if s.Base != nil {
			if br := s.Base.Result(r.Check); br != nil {
				had = map[string]bool{}
				for _, bs := range br.Suppressed {
					if bs.Via == checks.ViaInline {
						had[bs.Finding.Fingerprint] = true
					}
				}
			}
		}
		for i := range r.Suppressed {
			sup := &r.Suppressed[i]
			if sup.Via != checks.ViaInline {
				continue
			}
			switch {
			case r.Check == checks.Secrets && rangeScan:
				sup.FromChange = true
			case s.Base != nil && !had[sup.Finding.Fingerprint]:
				sup.FromChange = true
			}
		}
	}
}

// memoTree lists a tree's files once per scan.
type memoTree struct {
	Tree
	files []checks.File
	err   error
	done  bool
}

func memo(t Tree) *memoTree { return &memoTree{Tree: t} }

// Memo lists t's files once for every reader that holds the result (the
// CLI reads the policy, the custom checks and then scans one directory).
func Memo(t Tree) Tree { return memo(t) }

func (m *memoTree) Files(ctx context.Context) ([]checks.File, error) {
	if !m.done {
		m.files, m.err = m.Tree.Files(ctx)
		m.done = m.err == nil
	}
	return m.files, m.err
}
