// Package worker runs one scan job: fetch the commits, run the checks on the
// head (and the base, to tell new findings from existing ones), let the
// policy decide, and write the verdicts to the check runs.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// Clients makes GitHub clients and tokens (app/ghclient.Factory).
type Clients interface {
	Installation(id int64) (*github.Client, error)
	Token(ctx context.Context, installationID int64) (string, error)
	URLs() ghclient.URLs
	AppID() int64
}

// Decision is what the policy made of a scan.
type Decision struct {
	Verdicts      []checks.Verdict
	PolicyHash    string
	PolicySources []string
	// PolicyCanonical is the resolved policy's canonical JSON (nil when
	// the policy could not be read), for the evidence.
	PolicyCanonical []byte
	// SarifUpload: also upload the findings to code scanning.
	SarifUpload bool
	// What to post on a pull request besides the check runs.
	ReviewComments bool
	ReviewEvent    string
	SummaryComment bool
}

// DecideInput is what the policy sees.
type DecideInput struct {
	Scan   jobs.Scan
	GH     *github.Client
	Head   *checks.Response
	Base   *checks.Response // nil when there is nothing to compare with
	Checks []string
	// ChangedFiles are the files a pull request changes (nil otherwise).
	ChangedFiles []string
	// Prepared is what Prepare returned for this scan.
	Prepared *Prepared
}

// Prepared is what the decider resolved before the scan ran.
type Prepared struct {
	// Custom are the custom checks the scan runs (iac), read from the
	// org's and the repository's settings, never from the change.
	Custom []checks.CustomCheck
	// State is the decider's own, handed back in DecideInput.
	State any
}

// GetState returns p.State, or nil for a nil p.
func (p *Prepared) GetState() any {
	if p == nil {
		return nil
	}
	return p.State
}

// Decider resolves the policy for a scan and evaluates its results.
type Decider interface {
	// Prepare runs before the scan: it reads what the scan needs from the
	// settings (custom checks). An error means the job should be retried.
	Prepare(ctx context.Context, gh *github.Client, s jobs.Scan) (*Prepared, error)
	Decide(ctx context.Context, in DecideInput) (*Decision, error)
}

// Store is what the worker keeps between jobs: the newest head of each pull
// request (to notice superseded scans) and per-commit results (so a base
// commit is scanned once).
type Store interface {
	PullHead(ctx context.Context, repo string, number int) (string, error)
	CommitResult(ctx context.Context, repo, sha, check, engineKey string) ([]byte, error)
	PutCommitResult(ctx context.Context, repo, sha, check, engineKey string, result []byte) error
}

// Config wires a Worker.
type Config struct {
	Store   Store
	Clients Clients
	Runner  checks.Runner
	Decider Decider
	Checks  []string
	WorkDir string // scratch space for checkouts
	Logger  *slog.Logger
	Now     func() time.Time
	// DBUpdatedAt reports the vulnerability DB's date for the scope line.
	DBUpdatedAt func() time.Time
	// DetailsURL returns a scan's details page ("" for none).
	DetailsURL func(s jobs.Scan) string
	// Evidence records each verdict (nil: no evidence).
	Evidence EvidenceRecorder
	// Version is gatehouse's version, for the evidence and SARIF.
	Version string
	// BotLogin returns the app's bot login ("slug[bot]"), so only the
	// app's own comments count as posted.
	BotLogin func(ctx context.Context) string
	// Mirrors keeps the repositories' git mirrors (nil: WorkDir/mirrors
	// with the default size cap and blob size limit).
	Mirrors *gitfetch.Mirrors
	// CacheRows bounds the finding cache (0: DefaultCacheRows); the cache
	// is used when Store implements UnitCache.
	CacheRows int
}

// Worker handles KindScan jobs.
type Worker struct {
	cfg Config
	eng engines
}

// New builds a Worker.
func New(cfg Config) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	if cfg.Mirrors == nil {
		cfg.Mirrors = &gitfetch.Mirrors{Dir: filepath.Join(cfg.WorkDir, "mirrors"), Logger: cfg.Logger}
	}
	return &Worker{cfg: cfg}
}

// Scan runs one scan job end to end. An error means the job should be
// retried; a scanner failure is not an error but a verdict that says so.
// complete writes the verdict's evidence together with the job's
// completion; nil writes it in a transaction of its own (tests, tools).
func (w *Worker) Scan(ctx context.Context, s jobs.Scan, complete Completer) error {
	log := w.cfg.Logger.With(slog.String("delivery", s.DeliveryID), slog.String("repo", s.Repo), slog.String("sha", s.HeadSHA))
	gh, err := w.cfg.Clients.Installation(s.InstallationID)
	if err != nil {
		return err
	}
	if s.Kind == jobs.ScanBaseline && s.HeadSHA == "" {
		if err := w.prepareBaseline(ctx, gh, &s); err != nil {
			return err
		}
		log = log.With(slog.String("sha", s.HeadSHA))
	}
	runs := w.checkRuns(gh, s)
	if newer := w.supersededBy(ctx, s); newer != "" {
		log.Info("scan superseded before it started", slog.String("newer", newer))
		return w.cancel(ctx, runs, s, newer)
	}
	for _, check := range w.cfg.Checks {
		if id, ok := s.CheckRuns[check]; ok {
			if err := runs.Start(ctx, check, id); err != nil {
				return err
			}
		}
	}
	start := w.cfg.Now()
	prep, err := w.cfg.Decider.Prepare(ctx, gh, s)
	if err != nil {
		return fmt.Errorf("prepare %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	head, base, diff, err := w.scan(ctx, s, prep.Custom)
	if err != nil {
		return err
	}
	var changed []string
	if len(diff) > 0 {
		if d, err := report.ParseDiff(diff); d != nil {
			changed = d.Files()
		} else if err != nil {
			log.Warn("diff not parsed", slog.String("error", err.Error()))
		}
	}
	dec, err := w.cfg.Decider.Decide(ctx, DecideInput{Scan: s, GH: gh, Head: head, Base: base, Checks: w.cfg.Checks, ChangedFiles: changed, Prepared: prep})
	if err != nil {
		return fmt.Errorf("decide %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	if err := w.report(ctx, runs, s, head, dec); err != nil {
		return err
	}
	if s.Kind == jobs.ScanPullRequest {
		if newer := w.supersededBy(ctx, s); newer != "" {
			// The check runs belong to this (older) commit and stay; what
			// is posted on the pull request must not go over the newer
			// verdict.
			log.Info("scan superseded: pull request comments skipped", slog.String("newer", newer))
		} else if err := w.review(ctx, gh, s, dec, diff); err != nil {
			return err
		}
	}
	// Last: a retry after a failure above records once, what was reported.
	if err := w.record(ctx, log, gh, s, head, dec, start, complete); err != nil {
		return err
	}
	log.Info("scan reported", slog.Duration("took", w.cfg.Now().Sub(start)), slog.Any("conclusions", conclusions(dec.Verdicts)))
	return nil
}

// Fail completes every check run of a job that will not be retried again.
func (w *Worker) Fail(ctx context.Context, s jobs.Scan, cause error) error {
	gh, err := w.cfg.Clients.Installation(s.InstallationID)
	if err != nil {
		return err
	}
	runs := w.checkRuns(gh, s)
	msg := fmt.Sprintf("gatehouse could not complete this scan after several attempts.\n\nLast error: `%s`\n\nComment `/gatehouse rescan` on the pull request or use Re-run to try again.", oneLine(cause.Error()))
	var firstErr error
	for _, check := range w.cfg.Checks {
		if id, ok := s.CheckRuns[check]; ok {
			if err := runs.Fail(ctx, check, id, "Scan failed: internal error", msg, w.cfg.Now()); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (w *Worker) checkRuns(gh *github.Client, s jobs.Scan) *report.CheckRuns {
	owner, name, _ := strings.Cut(s.Repo, "/")
	return &report.CheckRuns{GH: gh, Repo: report.Repo{Owner: owner, Name: name}, HeadSHA: s.HeadSHA, AppID: w.cfg.Clients.AppID()}
}

// scan brings the repository's mirror up to date with the job's refs and
// runs the checks on head and, when there is one, on the base tree
// (dependencies and IaC; secrets compare by commit range). Only the files a
// check must read are materialized, and units the finding cache holds are
// not read again. Head and base are scanned with the same custom checks, so
// their findings compare.
func (w *Worker) scan(ctx context.Context, s jobs.Scan, custom []checks.CustomCheck) (head, base *checks.Response, diff []byte, err error) {
	log := w.cfg.Logger.With(slog.String("delivery", s.DeliveryID), slog.String("repo", s.Repo), slog.String("sha", s.HeadSHA))
	// 0711 and 0755: the sandboxed scanner runs as an unprivileged user
	// and reads the checkout; nobody can list the work dir itself.
	if err := os.MkdirAll(w.cfg.WorkDir, 0o711); err != nil {
		return nil, nil, nil, fmt.Errorf("scratch dir: %w", err)
	}
	dir, err := os.MkdirTemp(w.cfg.WorkDir, "scan-")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scratch dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, nil, fmt.Errorf("scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)
	token, err := w.cfg.Clients.Token(ctx, s.InstallationID)
	if err != nil {
		return nil, nil, nil, err
	}
	spec := gitfetch.FetchSpec{CloneURL: w.cfg.Clients.URLs().CloneURL(s.Repo), Token: token, Head: s.HeadSHA, Base: s.BaseSHA}
	newBranchBase := ""
	switch s.Kind {
	case jobs.ScanPullRequest:
		spec.Refs = []string{fmt.Sprintf("refs/pull/%d/head", s.PRNumber)}
		if s.BaseRef != "" {
			spec.Refs = append(spec.Refs, "refs/heads/"+s.BaseRef)
		}
	case jobs.ScanPush:
		if s.HeadRef != "" {
			spec.Refs = []string{"refs/heads/" + s.HeadRef}
		}
		if s.BaseSHA == "" && s.DefaultBranch != "" && s.DefaultBranch != s.HeadRef {
			// A new branch: compare with the default branch.
			newBranchBase = "refs/heads/" + s.DefaultBranch
			spec.Refs = append(spec.Refs, newBranchBase)
		}
	case jobs.ScanBaseline:
		if s.HeadRef != "" {
			spec.Refs = []string{"refs/heads/" + s.HeadRef}
		}
	}
	snap, err := w.cfg.Mirrors.Open(ctx, s.Repo, spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fetch %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	defer snap.Close()
	log.Debug("mirror updated", slog.Bool("rebuilt", snap.Stats.Rebuilt), slog.Int("new_objects", snap.Stats.NewObjects))
	compare := snap.MergeBase
	if s.Kind == jobs.ScanPush && s.BaseSHA != "" {
		compare = s.BaseSHA
	}
	if newBranchBase != "" {
		if mb, err := snap.MergeBaseWith(ctx, snap.Ref(newBranchBase)); err == nil {
			compare = mb
		}
	}
	headScan := treeScan{snap: snap, rev: s.HeadSHA, dir: filepath.Join(dir, "head"), custom: custom}
	var treeChecks []string
	for _, c := range w.cfg.Checks {
		if c != checks.Secrets {
			treeChecks = append(treeChecks, c)
		}
	}
	if s.Kind == jobs.ScanBaseline || compare == s.HeadSHA {
		// The tree alone: a baseline, or a commit that adds nothing to
		// what it is compared with (a re-run on the default branch).
		headScan.names = w.cfg.Checks
	} else {
		headScan.names = treeChecks
		if slices.Contains(w.cfg.Checks, checks.Secrets) {
			if _, err := snap.EnsureRange(ctx, compare, s.HeadSHA); err != nil {
				return nil, nil, nil, fmt.Errorf("fetch the changes of %s@%s: %w", s.Repo, s.HeadSHA, err)
			}
			headScan.rangeTarget = &checks.Target{HeadRev: s.HeadSHA, BaseRev: compare}
		}
	}
	if s.Kind == jobs.ScanPullRequest && snap.MergeBase != "" {
		if headScan.rangeTarget == nil {
			if _, err := snap.EnsureRange(ctx, snap.MergeBase, s.HeadSHA); err != nil {
				return nil, nil, nil, fmt.Errorf("fetch the changes of %s@%s: %w", s.Repo, s.HeadSHA, err)
			}
		}
		if diff, err = snap.Diff(ctx, snap.MergeBase, s.HeadSHA); err != nil {
			return nil, nil, nil, fmt.Errorf("diff %s@%s: %w", s.Repo, s.HeadSHA, err)
		}
	}
	head, err = w.scanTree(ctx, log, headScan)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scan %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	if compare == "" || compare == s.HeadSHA || len(treeChecks) == 0 {
		return head, nil, diff, nil
	}
	base, missing := w.cachedBase(ctx, s.Repo, compare, head, treeChecks)
	if len(missing) == 0 {
		return head, base, diff, nil
	}
	fresh, err := w.scanTree(ctx, log, treeScan{snap: snap, rev: compare, dir: filepath.Join(dir, "base"), names: missing, custom: custom})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scan base %s@%s: %w", s.Repo, compare, err)
	}
	w.cacheBase(ctx, s.Repo, compare, fresh)
	base.Results = append(base.Results, fresh.Results...)
	for c, e := range fresh.Errors {
		if base.Errors == nil {
			base.Errors = map[string]string{}
		}
		base.Errors[c] = e
	}
	return head, base, diff, nil
}

func (w *Worker) report(ctx context.Context, runs *report.CheckRuns, s jobs.Scan, head *checks.Response, dec *Decision) error {
	rng := templates.Range{Kind: s.Kind, Base: s.BaseSHA, Head: s.HeadSHA, PRNumber: s.PRNumber, NewRef: s.Kind == jobs.ScanPush && s.BaseSHA == ""}
	var dbDate time.Time
	if w.cfg.DBUpdatedAt != nil {
		dbDate = w.cfg.DBUpdatedAt()
	}
	details := ""
	if w.cfg.DetailsURL != nil {
		details = w.cfg.DetailsURL(s)
	}
	for _, v := range dec.Verdicts {
		id, ok := s.CheckRuns[v.Check]
		if !ok {
			continue
		}
		data := templates.CheckRunData{
			Verdict: v, Result: head.Result(v.Check), Range: rng,
			PolicyHash: dec.PolicyHash, PolicySource: dec.PolicySources, Now: w.cfg.Now(), DetailsURL: details,
		}
		if v.Check == checks.Dependencies {
			data.DBUpdatedAt = dbDate
		}
		out, err := templates.CheckRun(data)
		if err != nil {
			return err
		}
		if err := runs.Complete(ctx, id, v, out, w.cfg.Now()); err != nil {
			return err
		}
	}
	return nil
}

func conclusions(vs []checks.Verdict) map[string]string {
	m := map[string]string{}
	for _, v := range vs {
		m[v.Check] = string(v.Conclusion)
	}
	return m
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
