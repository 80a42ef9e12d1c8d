package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/checks"
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
	runs := &report.CheckRuns{GH: gh, Repo: report.Repo{Owner: owner, Name: name}, HeadSHA: head, AppID: w.cfg.Clients.AppID()}
	details := ""
	if w.cfg.DetailsURL != nil {
		details = w.cfg.DetailsURL(*s)
	}
	ids, err := runs.Ensure(ctx, w.cfg.Checks, func(check string) string { return jobs.ExternalID(*s, check) }, details)
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

// engineKey identifies what a cached result was computed with: the engine,
// its data and the custom checks it ran (by content).
func engineKey(r *checks.Result) string {
	key := unitEngineKey(r.Engine)
	if len(r.Custom) == 0 {
		return key
	}
	h := sha256.New()
	for _, c := range r.Custom {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.Origin, c.Name, c.SHA256)
	}
	return key + "/custom:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// cachedBase returns the base results already stored for the commit, and
// the checks that must still be scanned. A check whose head scan failed has
// no engine key to match and is always rescanned.
func (w *Worker) cachedBase(ctx context.Context, repo, sha string, head *checks.Response, names []string) (*checks.Response, []string) {
	base := &checks.Response{}
	var missing []string
	for _, c := range names {
		hr := head.Result(c)
		if w.cfg.Store == nil || hr == nil {
			missing = append(missing, c)
			continue
		}
		b, err := w.cfg.Store.CommitResult(ctx, repo, sha, c, engineKey(hr))
		var r checks.Result
		if err != nil || b == nil || json.Unmarshal(b, &r) != nil {
			missing = append(missing, c)
			continue
		}
		base.Results = append(base.Results, &r)
	}
	return base, missing
}

func (w *Worker) cacheBase(ctx context.Context, repo, sha string, fresh *checks.Response) {
	if w.cfg.Store == nil {
		return
	}
	for _, r := range fresh.Results {
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if err := w.cfg.Store.PutCommitResult(ctx, repo, sha, r.Check, engineKey(r), b); err != nil {
			w.cfg.Logger.Warn("base result not cached", slog.String("repo", repo), slog.String("sha", sha), slog.String("error", err.Error()))
		}
	}
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
func (w *Worker) review(ctx context.Context, gh *github.Client, s jobs.Scan, dec *Decision, diff []byte) error {
	if !dec.ReviewComments && !dec.SummaryComment {
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
		dec.Verdicts, diff, report.ReviewOptions{Event: dec.ReviewEvent, Comments: dec.ReviewComments, Summary: dec.SummaryComment, DetailsURL: details})
	if err != nil {
		return fmt.Errorf("review %s#%d: %w", s.Repo, s.PRNumber, err)
	}
	w.cfg.Logger.Info("pull request reviewed", slog.String("delivery", s.DeliveryID), slog.String("repo", s.Repo), slog.String("sha", s.HeadSHA),
		slog.Int("comments", res.Posted), slog.Int("duplicates", res.Duplicates), slog.Int("outside_diff", res.OutsideDiff), slog.Int("fixed_replies", res.FixedReplies))
	return nil
}
