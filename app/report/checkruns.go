// Package report writes gatehouse's verdicts to GitHub: check runs through
// their lifecycle (queued, in progress, completed), annotations in batches
// of at most 50, and review and summary comments.
package report

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v88/github"
	"golang.org/x/sync/errgroup"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// MaxAnnotations is GitHub's limit of annotations per check run request.
const MaxAnnotations = 50

// CheckRunName is the name a check's run carries on GitHub.
func CheckRunName(check string) string { return "gatehouse/" + check }

// Repo names a repository.
type Repo struct{ Owner, Name string }

// String is "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// CheckRuns manages one commit's check runs.
type CheckRuns struct {
	GH      *github.Client
	Repo    Repo
	HeadSHA string
	AppID   int64
}

// QueueCheckRuns creates a scan's check runs, queued (or finds them, on a
// retry): the one place check runs are created, for planned scans and
// baselines alike. It returns check → check run id.
func QueueCheckRuns(ctx context.Context, gh *github.Client, appID int64, s jobs.Scan, names []string, detailsURL string) (map[string]int64, error) {
	owner, name, _ := strings.Cut(s.Repo, "/")
	runs := &CheckRuns{GH: gh, Repo: Repo{Owner: owner, Name: name}, HeadSHA: s.HeadSHA, AppID: appID}
	return runs.ensure(ctx, names, func(check string) string { return jobs.ExternalID(s, check) }, detailsURL)
}

// ensure creates a queued check run for each check unless one with the same
// external id already exists on the commit (a retried job updates its own
// runs instead of creating new ones). It returns check → check run id.
func (c *CheckRuns) ensure(ctx context.Context, names []string, externalID func(check string) string, detailsURL string) (map[string]int64, error) {
	existing, err := c.list(ctx)
	if err != nil {
		return nil, err
	}
	// The runs are created side by side: the pull request shows them
	// queued one round trip after the planner starts, not three.
	var (
		mu      sync.Mutex
		ids     = map[string]int64{}
		created errgroup.Group
	)
	for _, check := range names {
		ext := externalID(check)
		if id, ok := existing[ext]; ok {
			ids[check] = id
			continue
		}
		opts := github.CreateCheckRunOptions{
			Name: CheckRunName(check), HeadSHA: c.HeadSHA,
			ExternalID: github.Ptr(ext), Status: github.Ptr("queued"),
		}
		if detailsURL != "" {
			opts.DetailsURL = github.Ptr(detailsURL)
		}
		created.Go(func() error {
			run, _, err := c.GH.Checks.CreateCheckRun(ctx, c.Repo.Owner, c.Repo.Name, opts)
			if err != nil {
				return fmt.Errorf("create check run %s on %s@%s: %w", check, c.Repo, c.HeadSHA, err)
			}
			mu.Lock()
			ids[check] = run.GetID()
			mu.Unlock()
			return nil
		})
	}
	if err := created.Wait(); err != nil {
		return nil, err
	}
	return ids, nil
}

// list returns the app's check runs on the commit by external id.
func (c *CheckRuns) list(ctx context.Context) (map[string]int64, error) {
	runs, err := c.all(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range runs {
		if r.GetExternalID() != "" {
			if _, seen := out[r.GetExternalID()]; !seen {
				out[r.GetExternalID()] = r.GetID()
			}
		}
	}
	return out, nil
}

// Start marks a check run in progress.
func (c *CheckRuns) Start(ctx context.Context, check string, id int64) error {
	_, _, err := c.GH.Checks.UpdateCheckRun(ctx, c.Repo.Owner, c.Repo.Name, id, github.UpdateCheckRunOptions{
		Name: CheckRunName(check), Status: github.Ptr("in_progress"),
	})
	if err != nil {
		return fmt.Errorf("start check run %s on %s@%s: %w", check, c.Repo, c.HeadSHA, err)
	}
	return nil
}

// Complete writes a verdict to its check run: annotations in batches of at
// most 50 (each request appends), the last batch with the conclusion.
func (c *CheckRuns) Complete(ctx context.Context, id int64, v checks.Verdict, out templates.CheckRunOutput, now time.Time) error {
	anns := Annotations(v)
	output := func(batch []*github.CheckRunAnnotation) *github.CheckRunOutput {
		return &github.CheckRunOutput{
			Title: github.Ptr(out.Title), Summary: github.Ptr(out.Summary),
			Text: github.Ptr(out.Text), Annotations: batch,
		}
	}
	for len(anns) > MaxAnnotations {
		batch := anns[:MaxAnnotations]
		anns = anns[MaxAnnotations:]
		_, _, err := c.GH.Checks.UpdateCheckRun(ctx, c.Repo.Owner, c.Repo.Name, id, github.UpdateCheckRunOptions{
			Name: CheckRunName(v.Check), Output: output(batch),
		})
		if err != nil {
			return fmt.Errorf("annotate check run %s on %s@%s: %w", v.Check, c.Repo, c.HeadSHA, err)
		}
	}
	_, _, err := c.GH.Checks.UpdateCheckRun(ctx, c.Repo.Owner, c.Repo.Name, id, github.UpdateCheckRunOptions{
		Name: CheckRunName(v.Check), Status: github.Ptr("completed"),
		Conclusion: github.Ptr(string(v.Conclusion)), CompletedAt: &github.Timestamp{Time: now},
		Output: output(anns),
	})
	if err != nil {
		return fmt.Errorf("complete check run %s on %s@%s: %w", v.Check, c.Repo, c.HeadSHA, err)
	}
	return nil
}

// Fail completes a check run with failure and a reason (a job that will not
// be retried again), so no run stays in progress forever.
func (c *CheckRuns) Fail(ctx context.Context, check string, id int64, title, summary string, now time.Time) error {
	return c.finish(ctx, check, id, "failure", title, summary, now)
}

// Cancel completes a check run as cancelled (its scan was superseded).
func (c *CheckRuns) Cancel(ctx context.Context, check string, id int64, title, summary string, now time.Time) error {
	return c.finish(ctx, check, id, "cancelled", title, summary, now)
}

// finish completes a check run that has no verdict: only a conclusion, a
// title and a summary.
func (c *CheckRuns) finish(ctx context.Context, check string, id int64, conclusion, title, summary string, now time.Time) error {
	_, _, err := c.GH.Checks.UpdateCheckRun(ctx, c.Repo.Owner, c.Repo.Name, id, github.UpdateCheckRunOptions{
		Name: CheckRunName(check), Status: github.Ptr("completed"), Conclusion: github.Ptr(conclusion),
		CompletedAt: &github.Timestamp{Time: now},
		Output:      &github.CheckRunOutput{Title: github.Ptr(title), Summary: github.Ptr(summary)},
	})
	if err != nil {
		return fmt.Errorf("complete check run %s (%s) on %s@%s: %w", check, conclusion, c.Repo, c.HeadSHA, err)
	}
	return nil
}

// Annotations turns a verdict's findings into check run annotations:
// failure for blocking findings, warning for the rest. Findings without a
// line are annotated on line 1 of their file (GitHub requires a line).
//
// Findings the change did not bring (existing on its base) are listed in
// the check run's text but not annotated, as code scanning and reviewdog's
// default filter do: on a repository with hundreds of old findings, every
// pull request would otherwise carry hundreds of warnings on lines it
// never touched (and wait for their uploads, 50 a request).
func Annotations(v checks.Verdict) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for _, f := range v.Findings {
		if f.File == "" || f.Status == checks.StatusExisting {
			continue
		}
		start, end := f.StartLine, f.EndLine
		if start < 1 {
			start = 1
		}
		if end < start {
			end = start
		}
		level := "warning"
		if f.Blocking {
			level = "failure"
		}
		msg := f.Message
		if msg == "" {
			msg = f.Title
		}
		if f.Reason != "" {
			msg += "\n\n" + f.Reason
		}
		if fix := templates.FixText(f.Finding); fix != "" {
			msg += "\n\nFix: " + fix
		}
		out = append(out, &github.CheckRunAnnotation{
			Path: github.Ptr(f.File), StartLine: github.Ptr(start), EndLine: github.Ptr(end),
			AnnotationLevel: github.Ptr(level),
			Title:           github.Ptr(truncate(fmt.Sprintf("%s %s (%s, %s)", f.RuleID, f.Title, f.Severity, f.Status), 255)),
			Message:         github.Ptr(truncate(msg, 64000)),
		})
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
