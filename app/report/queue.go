package report

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"
)

// CancelPending completes as cancelled the app's check runs on the commit
// that are not completed yet (a merge group the queue destroyed), and
// returns how many it cancelled.
func (c *CheckRuns) CancelPending(ctx context.Context, title, summary string, now time.Time) (int, error) {
	runs, err := c.all(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		if r.GetStatus() == "completed" {
			continue
		}
		check := strings.TrimPrefix(r.GetName(), "gatehouse/")
		if err := c.Cancel(ctx, check, r.GetID(), title, summary, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Cancelled reports whether any of the app's check runs on the commit was
// completed as cancelled: on a merge group's commit, the queue destroyed
// the group.
func (c *CheckRuns) Cancelled(ctx context.Context) (bool, error) {
	runs, err := c.all(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range runs {
		if r.GetStatus() == "completed" && r.GetConclusion() == "cancelled" {
			return true, nil
		}
	}
	return false, nil
}

// all lists the app's check runs on the commit.
func (c *CheckRuns) all(ctx context.Context) ([]*github.CheckRun, error) {
	var out []*github.CheckRun
	opts := &github.ListCheckRunsOptions{Filter: github.Ptr("all"), ListOptions: github.ListOptions{PerPage: 100}}
	if c.AppID > 0 {
		opts.AppID = github.Ptr(c.AppID)
	}
	for {
		res, resp, err := c.GH.Checks.ListCheckRunsForRef(ctx, c.Repo.Owner, c.Repo.Name, c.HeadSHA, opts)
		if err != nil {
			return nil, fmt.Errorf("list check runs of %s@%s: %w", c.Repo, c.HeadSHA, err)
		}
		out = append(out, res.CheckRuns...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
