// Package worker runs one scan job: fetch the commits into the repository's
// mirror, hand the trees to the verdict pipeline (checks/verdict, the same
// code as `gatehouse scan`), and write the verdicts to GitHub: check runs,
// the pull request's review and summary comment, and the evidence.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"
	"golang.org/x/sync/errgroup"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/verdict"
	"github.com/gatehouse/gatehouse/internal/stopwatch"
	"github.com/gatehouse/gatehouse/templates"
)

// Clients makes GitHub clients and tokens (app/ghclient.Factory).
type Clients interface {
	Installation(id int64) (*github.Client, error)
	Token(ctx context.Context, installationID int64) (string, error)
	URLs() ghclient.URLs
	AppID() int64
}

// Policies reads what judges a scan (app/policysource): the policy and the
// custom checks, from the org's settings and the repository's base, never
// from the change. A *policy.ParseError is the policy file's own problem
// (every check fails with it); any other error means GitHub could not be
// read (the job is retried).
type Policies interface {
	Load(ctx context.Context, gh *github.Client, s jobs.Scan) (*policy.Policy, []checks.CustomCheck, error)
}

// Store is what the worker keeps between jobs: the newest head of each pull
// request (to notice superseded scans), each scan's results (to decide
// again on an approval without scanning) and the approvals given.
type Store interface {
	PullHead(ctx context.Context, repo string, number int) (string, error)
	PutScan(ctx context.Context, repo, sha string, scan []byte) error
	Scan(ctx context.Context, repo, sha string) ([]byte, error)
	PutApproval(ctx context.Context, repo string, pr int, a verdict.Approval, reviewID int64) error
	Approvals(ctx context.Context, repo string, pr int) ([]verdict.Approval, error)
}

// Config wires a Worker.
type Config struct {
	Store    Store
	Clients  Clients
	Pipeline *verdict.Pipeline
	Policies Policies
	Checks   []string
	WorkDir  string // scratch space (mirrors live under WorkDir/mirrors)
	Logger   *slog.Logger
	Now      func() time.Time
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
	// OnVerdicts sees every set of verdicts reported (metrics).
	OnVerdicts func([]checks.Verdict)
}

// Worker handles KindScan, KindApproval and KindDeployment jobs.
type Worker struct {
	cfg Config
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
	log := w.log(s)
	gh, err := w.cfg.Clients.Installation(s.InstallationID)
	if err != nil {
		return err
	}
	if s.Kind == jobs.ScanBaseline && s.HeadSHA == "" {
		if err := w.prepareBaseline(ctx, gh, &s); err != nil {
			return err
		}
		log = w.log(s)
	}
	runs := w.checkRuns(gh, s)
	if newer := w.supersededBy(ctx, s); newer != "" {
		log.Info("scan superseded before it started", slog.String("newer", newer))
		return w.cancel(ctx, runs, s, newer)
	}
	if s.Kind == jobs.ScanMergeGroup {
		// The queue may have destroyed the group since it was planned: the
		// planner then completed the group's check runs as cancelled (or,
		// when it saw none yet, created them so).
		gone, err := runs.Cancelled(ctx)
		if err != nil {
			return err
		}
		if gone {
			log.Info("merge group destroyed before its scan started")
			_, err := runs.CancelPending(ctx, "Merge group destroyed before its scan started",
				"The merge queue destroyed this group; gatehouse did not scan it. A new group gets its own check runs.", w.cfg.Now())
			return err
		}
	}
	// The check runs go in progress while the policy is read and the
	// scan runs: no GitHub round trip sits in front of the scan.
	var starting errgroup.Group
	defer starting.Wait() // on an early return: no call outlives the job
	for _, check := range w.cfg.Checks {
		if id, ok := s.CheckRuns[check]; ok {
			starting.Go(func() error { return runs.Start(ctx, check, id) })
		}
	}
	start := w.cfg.Now()
	// The job's phases, for its log line (docs/performance.md reads them).
	ph := stopwatch.Start(w.cfg.Now)
	// The policy is read from GitHub while the mirror fetches: the scan
	// needs both, neither needs the other.
	loaded := make(chan loadedPolicy, 1)
	go func() {
		var l loadedPolicy
		l.pol, l.custom, l.err = w.cfg.Policies.Load(ctx, gh, s)
		loaded <- l
	}()
	scanned, diff, pol, polErr, err := w.scan(ctx, log, s, loaded, ph)
	if err != nil {
		return err
	}
	if err := w.keep(ctx, s, scanned); err != nil {
		return err
	}
	approvals, err := w.approvals(ctx, s)
	if err != nil {
		return err
	}
	dec := verdict.Decide(verdict.Input{Scanned: scanned, Policy: pol, PolicyErr: polErr, Approvals: approvals, Now: w.cfg.Now()})
	ph.Mark("decide")
	// A run marked in progress after its verdict would reopen it.
	if err := starting.Wait(); err != nil {
		return err
	}
	if err := w.report(ctx, runs, s, scanned.Head, dec); err != nil {
		return err
	}
	ph.Mark("check_runs")
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
	ph.Mark("review")
	// Last: a retry after a failure above records once, what was reported.
	if err := w.record(ctx, log, gh, s, scanned.Head, dec, start, complete); err != nil {
		return err
	}
	ph.Mark("evidence")
	log.Info("scan reported", slog.Duration("took", w.cfg.Now().Sub(start)), slog.Any("conclusions", conclusions(dec.Verdicts)),
		slog.Group("phases", ph.Attrs()...))
	return nil
}

func (w *Worker) log(s jobs.Scan) *slog.Logger {
	return w.cfg.Logger.With(slog.String("delivery", s.DeliveryID), slog.String("repo", s.Repo), slog.String("sha", s.HeadSHA))
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
// runs the pipeline on the head, compared with what the job compares it
// with: a pull request's merge base, a push's previous head (a new
// branch's merge base with the default branch), nothing for a baseline.
// For a pull request it also returns the diff GitHub shows, which review
// comments are placed on.
//
// The policy arrives on loaded (read while the mirror fetches); a policy
// that does not parse is returned with the scan, for the verdict to say
// so; a policy that could not be read is an error (GitHub unreachable: the
// job is retried).
func (w *Worker) scan(ctx context.Context, log *slog.Logger, s jobs.Scan, loaded <-chan loadedPolicy, ph *stopwatch.Stopwatch) (_ *verdict.Scanned, diff []byte, _ *policy.Policy, polErr error, _ error) {
	fail := func(err error) (*verdict.Scanned, []byte, *policy.Policy, error, error) {
		return nil, nil, nil, nil, err
	}
	token, err := w.cfg.Clients.Token(ctx, s.InstallationID)
	if err != nil {
		return fail(err)
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
	case jobs.ScanMergeGroup:
		// The group's gh-readonly-queue branch and the base branch.
		if s.HeadRef != "" {
			spec.Refs = []string{"refs/heads/" + s.HeadRef}
		}
		if s.BaseRef != "" {
			spec.Refs = append(spec.Refs, "refs/heads/"+s.BaseRef)
		}
	}
	snap, err := w.cfg.Mirrors.Open(ctx, s.Repo, spec)
	if err != nil {
		return fail(fmt.Errorf("fetch %s@%s: %w", s.Repo, s.HeadSHA, err))
	}
	defer snap.Close()
	ph.Mark("fetch")
	log.Debug("mirror updated", slog.Bool("rebuilt", snap.Stats.Rebuilt), slog.Int("new_objects", snap.Stats.NewObjects))
	compare := snap.MergeBase
	if (s.Kind == jobs.ScanPush || s.Kind == jobs.ScanMergeGroup) && s.BaseSHA != "" {
		// What the push or the group brings onto what was there.
		compare = s.BaseSHA
	}
	if newBranchBase != "" {
		if mb, err := snap.MergeBaseWith(ctx, snap.Ref(newBranchBase)); err == nil {
			compare = mb
		}
	}
	req := verdict.Request{Repo: s.Repo, Head: snapTree{snap, s.HeadSHA}, Checks: w.cfg.Checks, Logger: log}
	if s.Kind != jobs.ScanBaseline && compare != "" && compare != s.HeadSHA {
		// A change: judged against what it changes. (A baseline, or a
		// commit that adds nothing to what it is compared with, is judged
		// as a tree alone.)
		req.Base = snapTree{snap, compare}
		if slices.Contains(w.cfg.Checks, checks.Secrets) {
			if _, err := snap.EnsureRange(ctx, compare, s.HeadSHA); err != nil {
				return fail(fmt.Errorf("fetch the changes of %s@%s: %w", s.Repo, s.HeadSHA, err))
			}
			req.Range = &verdict.Range{Base: compare, Head: s.HeadSHA}
		}
	}
	if s.Kind == jobs.ScanPullRequest && snap.MergeBase != "" {
		if req.Range == nil || req.Range.Base != snap.MergeBase {
			if _, err := snap.EnsureRange(ctx, snap.MergeBase, s.HeadSHA); err != nil {
				return fail(fmt.Errorf("fetch the changes of %s@%s: %w", s.Repo, s.HeadSHA, err))
			}
		}
	}
	// The diff (for review comments, posted after the check runs) is read
	// while the scan runs.
	var (
		diffing errgroup.Group
		read    []byte
	)
	defer diffing.Wait() // before snap.Close: the diff reads the mirror
	if s.Kind == jobs.ScanPullRequest && snap.MergeBase != "" {
		diffing.Go(func() error {
			var err error
			if read, err = snap.Diff(ctx, snap.MergeBase, s.HeadSHA); err != nil {
				return fmt.Errorf("diff %s@%s: %w", s.Repo, s.HeadSHA, err)
			}
			return nil
		})
	}
	ph.Mark("range")
	var l loadedPolicy
	select {
	case l = <-loaded:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	ph.Mark("policy")
	var pe *policy.ParseError
	if l.err != nil && !errors.As(l.err, &pe) {
		return fail(fmt.Errorf("read the policy of %s@%s: %w", s.Repo, s.HeadSHA, l.err))
	}
	req.Custom, req.Policy = l.custom, l.pol
	scanned, err := w.cfg.Pipeline.Scan(ctx, req)
	if err != nil {
		return fail(fmt.Errorf("scan %s@%s: %w", s.Repo, s.HeadSHA, err))
	}
	if err := diffing.Wait(); err != nil {
		return fail(err)
	}
	ph.Mark("scan")
	return scanned, read, l.pol, l.err, nil
}

// loadedPolicy is what Policies.Load returned.
type loadedPolicy struct {
	pol    *policy.Policy
	custom []checks.CustomCheck
	err    error
}

func (w *Worker) report(ctx context.Context, runs *report.CheckRuns, s jobs.Scan, head *checks.Response, dec *verdict.Decision) error {
	rng := templates.Range{Kind: s.Kind, Base: s.BaseSHA, Head: s.HeadSHA, PRNumber: s.PRNumber, NewRef: s.Kind == jobs.ScanPush && s.BaseSHA == ""}
	var dbDate time.Time
	if w.cfg.DBUpdatedAt != nil {
		dbDate = w.cfg.DBUpdatedAt()
	}
	details := ""
	if w.cfg.DetailsURL != nil {
		details = w.cfg.DetailsURL(s)
	}
	// The three check runs are rendered and completed side by side: each
	// is its own resource on GitHub, and a verdict waits on the slowest,
	// not the sum.
	var completing errgroup.Group
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
		completing.Go(func() error {
			// Rendered here too: a verdict of hundreds of findings takes
			// a while to fit into GitHub's text limit.
			out, err := templates.CheckRun(data)
			if err != nil {
				return err
			}
			return runs.Complete(ctx, id, v, out, w.cfg.Now())
		})
	}
	if err := completing.Wait(); err != nil {
		return err
	}
	if w.cfg.OnVerdicts != nil {
		w.cfg.OnVerdicts(dec.Verdicts)
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
