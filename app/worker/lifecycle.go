package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// prepareBaseline resolves a baseline scan's commit (the default branch
// head, read with git) and creates its check runs.
func (w *Worker) prepareBaseline(ctx context.Context, gh *github.Client, s *jobs.Scan) error {
	owner, name, _ := strings.Cut(s.Repo, "/")
	if s.DefaultBranch == "" {
		repo, _, err := gh.Repositories.Get(ctx, owner, name)
		if err != nil {
			return fmt.Errorf("get %s: %w", s.Repo, err)
		}
		s.DefaultBranch = repo.GetDefaultBranch()
	}
	token, err := w.cfg.Clients.Token(ctx, s.InstallationID)
	if err != nil {
		return err
	}
	head, err := gitfetch.ResolveRef(ctx, w.cfg.Clients.URLs().CloneURL(s.Repo), token, "refs/heads/"+s.DefaultBranch)
	if err != nil {
		return fmt.Errorf("resolve %s %s: %w", s.Repo, s.DefaultBranch, err)
	}
	s.HeadSHA, s.HeadRef = head, s.DefaultBranch
	details := ""
	if w.cfg.DetailsURL != nil {
		details = w.cfg.DetailsURL(*s)
	}
	ids, err := report.QueueCheckRuns(ctx, gh, w.cfg.Clients.AppID(), *s, w.cfg.Checks, details)
	if err != nil {
		return err
	}
	s.CheckRuns = ids
	return nil
}

// supersededBy returns the newer head of the scan's pull request, or "".
func (w *Worker) supersededBy(ctx context.Context, s jobs.Scan) string {
	if s.Kind != jobs.ScanPullRequest || w.cfg.Store == nil {
		return ""
	}
	head, err := w.cfg.Store.PullHead(ctx, s.Repo, s.PRNumber)
	if err != nil || head == "" || head == s.HeadSHA {
		return ""
	}
	return head
}

// cancel completes the check runs of a superseded scan without scanning.
func (w *Worker) cancel(ctx context.Context, runs *report.CheckRuns, s jobs.Scan, newer string) error {
	for _, check := range w.cfg.Checks {
		id, ok := s.CheckRuns[check]
		if !ok {
			continue
		}
		title := "Superseded by a newer push (" + short(newer) + ")"
		summary := fmt.Sprintf("Pull request #%d moved on to `%s` before this commit was scanned; its verdict is on the newer commit.", s.PRNumber, short(newer))
		if err := runs.Cancel(ctx, check, id, title, summary, w.cfg.Now()); err != nil {
			return err
		}
	}
	return nil
}

// keep stores what a scan found, so an approval of a pull request's own
// suppressions, or a deployment of the commit, can be decided without
// scanning again. A pull request head's scan is not replaced by a push or
// merge group scan of the same commit: approvals need the pull request's.
func (w *Worker) keep(ctx context.Context, s jobs.Scan, scanned *verdict.Scanned) error {
	if w.cfg.Store == nil {
		return nil
	}
	if s.Kind != jobs.ScanPullRequest {
		old, err := w.storedScan(ctx, s.Repo, s.HeadSHA)
		if err != nil {
			return err
		}
		if old != nil && old.Scan.Kind == jobs.ScanPullRequest {
			return nil
		}
	}
	b, err := json.Marshal(storedScan{Scan: s, Scanned: scanned})
	if err != nil {
		return err
	}
	if err := w.cfg.Store.PutScan(ctx, s.Repo, s.HeadSHA, b); err != nil {
		return fmt.Errorf("store the scan of %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	return nil
}

// storedScan is a scan job with what it found.
type storedScan struct {
	Scan    jobs.Scan        `json:"scan"`
	Scanned *verdict.Scanned `json:"scanned"`
}

// approvals returns the approvals given on the scan's pull request.
func (w *Worker) approvals(ctx context.Context, s jobs.Scan) ([]verdict.Approval, error) {
	if s.Kind != jobs.ScanPullRequest || w.cfg.Store == nil {
		return nil, nil
	}
	a, err := w.cfg.Store.Approvals(ctx, s.Repo, s.PRNumber)
	if err != nil {
		return nil, fmt.Errorf("approvals of %s#%d: %w", s.Repo, s.PRNumber, err)
	}
	return a, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// review posts the pull request review (line comments on blocking findings
// in the diff, replies on fixed ones) and the sticky summary comment, as the
// policy asks.
func (w *Worker) review(ctx context.Context, gh *github.Client, s jobs.Scan, dec *verdict.Decision, diff []byte) error {
	if !dec.Report.ReviewComments && !dec.Report.SummaryComment {
		return nil
	}
	owner, name, _ := strings.Cut(s.Repo, "/")
	bot := ""
	if w.cfg.BotLogin != nil {
		bot = w.cfg.BotLogin(ctx)
	}
	rv := &report.Reviewer{GH: gh, BotLogin: bot, Logger: w.cfg.Logger}
	details := ""
	if w.cfg.DetailsURL != nil {
		details = w.cfg.DetailsURL(s)
	}
	res, err := rv.Review(ctx, report.PullRequest{Repo: report.Repo{Owner: owner, Name: name}, Number: s.PRNumber, HeadSHA: s.HeadSHA},
		dec.Verdicts, diff, report.ReviewOptions{Event: dec.Report.ReviewEvent, Comments: dec.Report.ReviewComments, Summary: dec.Report.SummaryComment, DetailsURL: details})
	if err != nil {
		return fmt.Errorf("review %s#%d: %w", s.Repo, s.PRNumber, err)
	}
	w.cfg.Logger.Info("pull request reviewed", slog.String("delivery", s.DeliveryID), slog.String("repo", s.Repo), slog.String("sha", s.HeadSHA),
		slog.Int("comments", res.Posted), slog.Int("duplicates", res.Duplicates), slog.Int("outside_diff", res.OutsideDiff), slog.Int("fixed_replies", res.FixedReplies))
	return nil
}
