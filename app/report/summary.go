package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// summary creates the pull request's sticky summary comment on the first
// verdict and edits it in place afterwards; an unchanged body is not
// written again.
func (r *Reviewer) summary(ctx context.Context, p *pass, verdicts []checks.Verdict) error {
	pr, res := p.pr, &p.res
	body, err := templates.SummaryComment(templates.SummaryData{
		Marker: SummaryMarker, HeadSHA: pr.HeadSHA, Verdicts: verdicts,
		Comments: p.opts.Comments, OnDiff: p.onDiff, DetailsURL: p.opts.DetailsURL,
	})
	if err != nil {
		return err
	}
	existing, err := r.findSummary(ctx, pr)
	if err != nil {
		return err
	}
	if existing == nil {
		c, _, err := r.GH.Issues.CreateComment(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number, &github.IssueComment{Body: github.Ptr(body)})
		if err != nil {
			return fmt.Errorf("create summary comment on %s#%d: %w", pr.Repo, pr.Number, err)
		}
		res.SummaryID, res.SummaryCreated = c.GetID(), true
		return nil
	}
	res.SummaryID = existing.GetID()
	if sameText(existing.GetBody(), body) {
		return nil
	}
	if _, _, err := r.GH.Issues.EditComment(ctx, pr.Repo.Owner, pr.Repo.Name, existing.GetID(), &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("edit summary comment %d on %s#%d: %w", existing.GetID(), pr.Repo, pr.Number, err)
	}
	res.SummaryUpdated = true
	return nil
}

// findSummary returns the app's oldest summary comment on the pull
// request, reading every page of its conversation, or nil.
func (r *Reviewer) findSummary(ctx context.Context, pr PullRequest) (*github.IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		page, resp, err := r.GH.Issues.ListComments(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number, opts)
		if err != nil {
			return nil, fmt.Errorf("list comments of %s#%d: %w", pr.Repo, pr.Number, err)
		}
		for _, c := range page {
			if r.BotLogin != "" && c.GetUser().GetLogin() != r.BotLogin {
				continue
			}
			if parseMarker(c.GetBody()).kind == markSummary {
				return c, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

// sameText compares bodies as GitHub keeps them (it stores CRLF line ends
// for some clients).
func sameText(a, b string) bool {
	return strings.ReplaceAll(a, "\r\n", "\n") == strings.ReplaceAll(b, "\r\n", "\n")
}
