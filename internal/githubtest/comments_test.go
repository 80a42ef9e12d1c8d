package githubtest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

func TestIssueCommentsPaginateEditAndReact(t *testing.T) {
	f := newFixture(t)
	for i := range 35 {
		f.s.AddIssueComment("acme/widgets", f.pr.Number, "someone", "old "+itoa(i))
	}
	gh := f.installationClient(t)
	mine, _, err := gh.Issues.CreateComment(f.ctx, "acme", "widgets", f.pr.Number, &github.IssueComment{Body: github.Ptr("<!-- gatehouse -->summary")})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if mine.GetUser().GetLogin() != f.s.BotLogin() || mine.GetUser().GetType() != "Bot" {
		t.Errorf("posted as %s (%s), want %s Bot", mine.GetUser().GetLogin(), mine.GetUser().GetType(), f.s.BotLogin())
	}
	var all []*github.IssueComment
	opts := &github.IssueListCommentsOptions{}
	pages := 0
	for {
		page, resp, err := gh.Issues.ListComments(f.ctx, "acme", "widgets", f.pr.Number, opts)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		pages++
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 36 || pages != 2 || all[35].GetID() != mine.GetID() {
		t.Errorf("listed %d comments over %d pages, want 36 over 2 ending with ours", len(all), pages)
	}
	if _, _, err := gh.Issues.EditComment(f.ctx, "acme", "widgets", mine.GetID(), &github.IssueComment{Body: github.Ptr("<!-- gatehouse -->v2")}); err != nil {
		t.Fatalf("edit: %v", err)
	}
	stored := f.s.IssueComments("acme/widgets", f.pr.Number)
	if last := stored[len(stored)-1]; last.Body != "<!-- gatehouse -->v2" || last.Edits != 1 {
		t.Errorf("stored %+v", last)
	}
	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		_, resp, err := gh.Reactions.CreateIssueCommentReaction(f.ctx, "acme", "widgets", stored[0].ID, "eyes")
		if err != nil || statusOf(resp) != want {
			t.Errorf("reaction %d: status %d (%v), want %d", i+1, statusOf(resp), err, want)
		}
	}
	if r := f.s.Reactions(stored[0].ID); len(r) != 1 || r[0].Content != "eyes" {
		t.Errorf("reactions = %+v, want one eyes", r)
	}
}

func TestCommentLimitsAndMissingIssue(t *testing.T) {
	rec := &recordingTB{TB: t}
	f := newFixture(rec)
	gh := f.installationClient(t)
	_, resp, err := gh.Issues.CreateComment(f.ctx, "acme", "widgets", f.pr.Number, &github.IssueComment{Body: github.Ptr(strings.Repeat("a", 65537))})
	if statusOf(resp) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "Body is too long") {
		t.Errorf("65537-character comment: status %d (%v), want 422 Body is too long", statusOf(resp), err)
	}
	if _, _, err := gh.Issues.CreateComment(f.ctx, "acme", "widgets", f.pr.Number, &github.IssueComment{Body: github.Ptr(strings.Repeat("a", 65536))}); err != nil {
		t.Errorf("65536-character comment: %v", err)
	}
	if _, resp, _ := gh.Issues.ListComments(f.ctx, "acme", "widgets", 99, nil); statusOf(resp) != http.StatusNotFound {
		t.Errorf("comments of a missing pull request: status %d, want 404", statusOf(resp))
	}
	if _, resp, _ := gh.Reactions.CreateIssueCommentReaction(f.ctx, "acme", "widgets", 123456, "eyes"); statusOf(resp) != http.StatusNotFound {
		t.Errorf("reaction to a missing comment: status %d, want 404", statusOf(resp))
	}
	if got := rec.failures(); len(got) != 1 {
		t.Errorf("test failures %v, want only the over-long comment", got)
	}
}
