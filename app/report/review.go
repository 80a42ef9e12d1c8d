package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// MaxReviewComments caps the line comments of one review; the rest are
// counted in the review body and listed by the check run.
const MaxReviewComments = 50

// Review events (policy report.review_event).
const (
	EventRequestChanges = "REQUEST_CHANGES"
	EventComment        = "COMMENT"
)

// Reviewer writes a pull request's verdicts as review comments on the
// changed lines and as the sticky summary comment, without ever saying the
// same thing twice: every comment starts with a hidden marker, and the
// comments already on the pull request are read before anything is posted.
type Reviewer struct {
	GH *github.Client
	// BotLogin is the app's user ("<slug>[bot]"). When set, only its
	// comments are taken for the app's own.
	BotLogin string
	Logger   *slog.Logger
}

// PullRequest is the pull request and the head commit a set of verdicts
// was computed on.
type PullRequest struct {
	Repo    Repo
	Number  int
	HeadSHA string
}

// ReviewOptions are the policy's reporting switches.
type ReviewOptions struct {
	// Event is REQUEST_CHANGES (the default when empty) or COMMENT
	// (policy report.review_event).
	Event string
	// Comments turns reviews and line comments on (report.review_comments).
	Comments bool
	// Summary turns the sticky summary comment on (report.summary_comment).
	Summary bool
	// DetailsURL links to the full scan, when there is a page for it.
	DetailsURL string
}

// ReviewResult counts what Review did.
type ReviewResult struct {
	Reviews      int // reviews posted (one per verdict with something new)
	Posted       int // line comments posted
	Duplicates   int // blocking findings whose comment is already on the pull request
	OutsideDiff  int // blocking findings on no changed line: in the review body and the summary
	Uncommented  int // blocking findings on changed lines over MaxReviewComments
	FixedReplies int // threads answered because their finding is fixed or no longer blocks
	// Fallbacks counts reviews GitHub refused with their line comments
	// (a diff that differs from GitHub's) and that were posted again with
	// the findings in the body.
	Fallbacks      int
	SummaryID      int64 // the summary comment, when there is one
	SummaryCreated bool
	SummaryUpdated bool
}

// Review reports one set of verdicts on one pull request head. diff is the
// unified diff from the merge base to the head (GitHub's view of the pull
// request; it should detect renames as GitHub does). For each verdict with
// blocking findings not yet commented on, it posts one review with a
// comment on the line of each such finding the diff shows; blocking
// findings elsewhere go in that review's body and in the summary. A clean
// pull request, or one where everything was said already, gets no review.
// Threads whose finding is gone (or no longer blocks) get one reply saying
// so. With opts.Summary, the summary comment is created or edited in place.
//
// Review is idempotent: run again on the same verdicts (a retried job), it
// posts nothing new.
func (r *Reviewer) Review(ctx context.Context, pr PullRequest, verdicts []checks.Verdict, diff []byte, opts ReviewOptions) (ReviewResult, error) {
	log := r.logger().With(slog.String("repo", pr.Repo.String()), slog.Int("pr", pr.Number), slog.String("sha", pr.HeadSHA))
	if opts.Event == "" {
		opts.Event = EventRequestChanges
	}
	if opts.Event != EventRequestChanges && opts.Event != EventComment {
		return ReviewResult{}, fmt.Errorf("review %s#%d: event %q (want %s or %s)", pr.Repo, pr.Number, opts.Event, EventRequestChanges, EventComment)
	}
	p := &pass{pr: pr, opts: opts, log: log, onDiff: map[string]bool{}}
	var err error
	if p.lines, err = ParseDiff(diff); err != nil {
		// What was parsed is still right; the rest goes to the body.
		log.Warn("diff only partly understood; findings on the rest go to the review body", slog.String("error", err.Error()))
	}
	if opts.Comments {
		if p.threads, err = r.threads(ctx, pr); err != nil {
			return p.res, err
		}
		for _, v := range verdicts {
			if err := r.reviewVerdict(ctx, p, v); err != nil {
				return p.res, err
			}
		}
		if err := r.resolve(ctx, p, verdicts); err != nil {
			return p.res, err
		}
	}
	if opts.Summary {
		if err := r.summary(ctx, p, verdicts); err != nil {
			return p.res, err
		}
	}
	res := p.res
	log.Info("pull request reviewed", slog.Int("reviews", res.Reviews), slog.Int("comments", res.Posted),
		slog.Int("duplicates", res.Duplicates), slog.Int("outside_diff", res.OutsideDiff),
		slog.Int("fixed_replies", res.FixedReplies), slog.Bool("summary", res.SummaryID != 0))
	return res, nil
}

// pass is the state of one Review call.
type pass struct {
	pr      PullRequest
	opts    ReviewOptions // Event filled in
	log     *slog.Logger
	lines   *DiffLines
	threads map[string]*thread // by fingerprint
	onDiff  map[string]bool    // fingerprints with a line comment, new or earlier
	res     ReviewResult
}

// draft is a line comment about to be posted.
type draft struct {
	finding checks.Evaluated
	line    int
	body    string
}

// plan sorts a verdict's blocking findings: new line comments, findings
// outside the diff, and how many on changed lines are over the limit.
// Findings already commented on are counted and skipped.
func (p *pass) plan(v checks.Verdict) (drafts []draft, outside []checks.Evaluated, over int, err error) {
	seen := map[string]bool{}
	for _, f := range v.Findings {
		if !f.Blocking || seen[f.Fingerprint] {
			continue
		}
		seen[f.Fingerprint] = true
		at := place(f.Finding, p.lines)
		switch {
		case at.line == 0:
			outside = append(outside, f)
		case p.threads[f.Fingerprint] != nil && p.threads[f.Fingerprint].open():
			p.onDiff[f.Fingerprint] = true
			p.res.Duplicates++
		case len(drafts) == MaxReviewComments:
			over++
		default:
			body, err := templates.ReviewComment(templates.ReviewCommentData{
				Marker: FindingMarker(v.Check, f.Fingerprint), Finding: f, Anchor: at.note,
			})
			if err != nil {
				return nil, nil, 0, err
			}
			p.onDiff[f.Fingerprint] = true
			drafts = append(drafts, draft{finding: f, line: at.line, body: body})
		}
	}
	p.res.OutsideDiff += len(outside)
	p.res.Uncommented += over
	return drafts, outside, over, nil
}

// reviewVerdict posts the review of one verdict, if it has anything new.
// When GitHub refuses the line comments (our diff and GitHub's disagree:
// a rename read as delete and add, a head that moved), the review is posted
// again with those findings in its body rather than not at all.
func (r *Reviewer) reviewVerdict(ctx context.Context, p *pass, v checks.Verdict) error {
	drafts, outside, over, err := p.plan(v)
	if err != nil || len(drafts) == 0 {
		return err // nothing new to say: no review
	}
	data := templates.ReviewBodyData{
		Marker: reviewMarker(v.Check), Verdict: v, HeadSHA: p.pr.HeadSHA, Commented: len(drafts),
		Uncommented: over, Outside: outside, Event: p.opts.Event, DetailsURL: p.opts.DetailsURL,
	}
	body, err := templates.ReviewBody(data)
	if err != nil {
		return err
	}
	req := &github.PullRequestReviewRequest{CommitID: github.Ptr(p.pr.HeadSHA), Body: github.Ptr(body), Event: github.Ptr(p.opts.Event)}
	for _, d := range drafts {
		req.Comments = append(req.Comments, &github.DraftReviewComment{
			Path: github.Ptr(d.finding.File), Line: github.Ptr(d.line), Side: github.Ptr("RIGHT"), Body: github.Ptr(d.body),
		})
	}
	_, _, err = r.GH.PullRequests.CreateReview(ctx, p.pr.Repo.Owner, p.pr.Repo.Name, p.pr.Number, req)
	if err == nil {
		p.res.Reviews++
		p.res.Posted += len(drafts)
		return nil
	}
	if !isUnprocessable(err) {
		return fmt.Errorf("post %s review on %s#%d: %w", v.Check, p.pr.Repo, p.pr.Number, err)
	}
	p.log.Warn("review refused with its line comments; posting it with the findings in the body",
		slog.String("check", v.Check), slog.String("error", err.Error()))
	for _, d := range drafts {
		data.Outside = append(data.Outside, d.finding)
		delete(p.onDiff, d.finding.Fingerprint)
	}
	data.Commented = 0
	if body, err = templates.ReviewBody(data); err != nil {
		return err
	}
	req.Body, req.Comments = github.Ptr(body), nil
	if _, _, err := r.GH.PullRequests.CreateReview(ctx, p.pr.Repo.Owner, p.pr.Repo.Name, p.pr.Number, req); err != nil {
		return fmt.Errorf("post %s review on %s#%d without line comments: %w", v.Check, p.pr.Repo, p.pr.Number, err)
	}
	p.res.Reviews++
	p.res.Fallbacks++
	p.res.OutsideDiff += len(drafts)
	return nil
}

// isUnprocessable reports a 422 answer.
func isUnprocessable(err error) bool {
	var e *github.ErrorResponse
	return errors.As(err, &e) && e.Response != nil && e.Response.StatusCode == http.StatusUnprocessableEntity
}

func (r *Reviewer) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
