package githubtest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

func TestGetPullAndFiles(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	pr, _, err := gh.PullRequests.Get(f.ctx, "acme", "widgets", f.pr.Number)
	if err != nil {
		t.Fatalf("get pull: %v", err)
	}
	if pr.GetHead().GetSHA() != f.repo.Head("feature") || pr.GetBase().GetSHA() != f.repo.Head("main") {
		t.Errorf("head/base = %s/%s, want the branch tips", pr.GetHead().GetSHA(), pr.GetBase().GetSHA())
	}
	if pr.GetBase().GetRepo().GetFullName() != "acme/widgets" || pr.GetHead().GetRef() != "feature" {
		t.Errorf("base repo %q head ref %q", pr.GetBase().GetRepo().GetFullName(), pr.GetHead().GetRef())
	}
	if pr.GetAdditions() != 4 || pr.GetDeletions() != 2 || pr.GetChangedFiles() != 2 {
		t.Errorf("additions/deletions/changed = %d/%d/%d, want 4/2/2", pr.GetAdditions(), pr.GetDeletions(), pr.GetChangedFiles())
	}
	files, _, err := gh.PullRequests.ListFiles(f.ctx, "acme", "widgets", f.pr.Number, nil)
	if err != nil {
		t.Fatalf("list files: %v", err)
	}
	got := map[string]string{}
	for _, fl := range files {
		got[fl.GetFilename()] = fl.GetStatus()
	}
	if got["app.txt"] != "modified" || got["new.txt"] != "added" || len(got) != 2 {
		t.Errorf("files = %v, want app.txt modified and new.txt added", got)
	}
	for _, fl := range files {
		if fl.GetFilename() == "app.txt" && !strings.Contains(fl.GetPatch(), "+line 10 changed") {
			t.Errorf("app.txt patch lacks the change:\n%s", fl.GetPatch())
		}
	}
	diff, _, err := gh.PullRequests.GetRaw(f.ctx, "acme", "widgets", f.pr.Number, github.RawOptions{Type: github.Diff})
	if err != nil {
		t.Fatalf("get diff: %v", err)
	}
	if !strings.Contains(diff, "diff --git a/new.txt b/new.txt") {
		t.Errorf("raw diff lacks new.txt:\n%s", diff)
	}
}

func comment(path string, line int, side string) *github.DraftReviewComment {
	c := &github.DraftReviewComment{Path: github.Ptr(path), Line: github.Ptr(line), Body: github.Ptr("finding")}
	if side != "" {
		c.Side = github.Ptr(side)
	}
	return c
}

func TestReviewCommentsMustBeOnTheDiff(t *testing.T) {
	multi := func(start, end int) *github.DraftReviewComment {
		c := comment("app.txt", end, "RIGHT")
		c.StartLine, c.StartSide = github.Ptr(start), github.Ptr("RIGHT")
		return c
	}
	for _, tc := range []struct {
		name    string
		comment *github.DraftReviewComment
		ok      bool
		message string
	}{
		{"added line", comment("app.txt", 10, "RIGHT"), true, ""},
		{"context line", comment("app.txt", 8, ""), true, ""},
		{"new file", comment("new.txt", 2, "RIGHT"), true, ""},
		{"removed line on the left", comment("app.txt", 30, "LEFT"), true, ""},
		{"multi-line in one hunk", multi(8, 12), true, ""},
		{"line outside every hunk", comment("app.txt", 20, "RIGHT"), false, "Pull request review thread line must be part of the diff"},
		{"past the end of the file", comment("new.txt", 3, "RIGHT"), false, "line must be part of the diff"},
		{"file not in the diff", comment("README.md", 1, "RIGHT"), false, "Path could not be resolved"},
		{"left side outside hunks", comment("app.txt", 2, "LEFT"), false, "line must be part of the diff"},
		{"multi-line across hunks", multi(10, 30), false, "same hunk"},
		{"start after end", multi(12, 8), false, "must precede the end line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			f := newFixture(rec)
			gh := f.installationClient(t)
			_, resp, err := gh.PullRequests.CreateReview(f.ctx, "acme", "widgets", f.pr.Number, &github.PullRequestReviewRequest{
				Event: github.Ptr("COMMENT"), Body: github.Ptr("review"), Comments: []*github.DraftReviewComment{tc.comment},
			})
			comments := f.s.ReviewComments("acme/widgets", f.pr.Number)
			if tc.ok {
				if err != nil {
					t.Fatalf("create review: %v", err)
				}
				if len(comments) != 1 || comments[0].Path != tc.comment.GetPath() || comments[0].Line != tc.comment.GetLine() || comments[0].DiffHunk == "" {
					t.Errorf("stored comments = %+v", comments)
				}
				if len(rec.failures()) != 0 {
					t.Errorf("unexpected test failures: %v", rec.failures())
				}
				return
			}
			if statusOf(resp) != http.StatusUnprocessableEntity {
				t.Fatalf("status %d (err %v), want 422", statusOf(resp), err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
			if len(comments) != 0 || len(f.s.Reviews("acme/widgets", f.pr.Number)) != 0 {
				t.Errorf("a refused review left %d comments behind", len(comments))
			}
			if len(rec.failures()) != 1 {
				t.Errorf("server reported %d test failures, want 1: %v", len(rec.failures()), rec.failures())
			}
		})
	}
}

func TestReviewByPositionRepliesAndEdits(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	review, _, err := gh.PullRequests.CreateReview(f.ctx, "acme", "widgets", f.pr.Number, &github.PullRequestReviewRequest{
		Event: github.Ptr("COMMENT"),
		// Below app.txt's first "@@" come context lines 7, 8, 9, then
		// "-line 10" (position 4) and "+line 10 changed" (position 5).
		Comments: []*github.DraftReviewComment{{Path: github.Ptr("app.txt"), Position: github.Ptr(5), Body: github.Ptr("here")}},
	})
	if err != nil {
		t.Fatalf("create review: %v", err)
	}
	if review.GetState() != "COMMENTED" {
		t.Errorf("state = %q, want COMMENTED", review.GetState())
	}
	comments, _, err := gh.PullRequests.ListComments(f.ctx, "acme", "widgets", f.pr.Number, nil)
	if err != nil || len(comments) != 1 {
		t.Fatalf("list comments: %d, %v", len(comments), err)
	}
	first := comments[0]
	if first.GetPosition() != 5 || first.GetLine() != 10 || first.GetSide() != "RIGHT" || first.GetUser().GetLogin() != f.s.BotLogin() {
		t.Errorf("comment position %d line %d %s by %s, want 5, 10 RIGHT by %s",
			first.GetPosition(), first.GetLine(), first.GetSide(), first.GetUser().GetLogin(), f.s.BotLogin())
	}
	if !strings.HasSuffix(first.GetDiffHunk(), "+line 10 changed") || !strings.HasPrefix(first.GetDiffHunk(), "@@ -7,7 +7,7 @@") {
		t.Errorf("diff_hunk = %q", first.GetDiffHunk())
	}
	// go-github has no method for the replies endpoint.
	req, err := gh.NewRequest(f.ctx, "POST", "repos/acme/widgets/pulls/1/comments/"+itoa(int(first.GetID()))+"/replies", map[string]string{"body": "thanks"})
	if err != nil {
		t.Fatal(err)
	}
	reply := new(github.PullRequestComment)
	if _, err := gh.Do(req, reply); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if reply.GetInReplyTo() != first.GetID() {
		t.Errorf("reply in_reply_to = %d, want %d", reply.GetInReplyTo(), first.GetID())
	}
	if _, _, err := gh.PullRequests.EditComment(f.ctx, "acme", "widgets", first.GetID(), &github.PullRequestComment{Body: github.Ptr("edited")}); err != nil {
		t.Fatalf("edit: %v", err)
	}
	stored := f.s.ReviewComments("acme/widgets", f.pr.Number)
	if len(stored) != 2 || stored[0].Body != "edited" || stored[0].Edits != 1 || stored[1].InReplyTo != first.GetID() {
		t.Errorf("stored comments = %+v", stored)
	}
}

func TestSecondPendingReviewRefused(t *testing.T) {
	f := newFixture(t, AllowRejections())
	gh := f.installationClient(t)
	for i, want := range []int{http.StatusOK, http.StatusUnprocessableEntity} {
		_, resp, _ := gh.PullRequests.CreateReview(f.ctx, "acme", "widgets", f.pr.Number, &github.PullRequestReviewRequest{
			Comments: []*github.DraftReviewComment{comment("app.txt", 10, "")},
		})
		if statusOf(resp) != want {
			t.Errorf("pending review %d: status %d, want %d", i+1, statusOf(resp), want)
		}
	}
}

func TestSyncPullRequestMovesHead(t *testing.T) {
	f := newFixture(t)
	next := f.repo.Commit("feature", "more", map[string]string{"later.txt": "x\n"})
	pr := f.s.SyncPullRequest("acme/widgets", f.pr.Number)
	if pr.HeadSHA != next || pr.HeadSHA == f.pr.HeadSHA {
		t.Fatalf("head after sync = %s, want %s", pr.HeadSHA, next)
	}
	got, err := f.s.gitOut(f.ctx, f.repo.Dir(), nil, nil, "rev-parse", "refs/pull/1/head")
	if err != nil || got != next {
		t.Errorf("refs/pull/1/head = %s (%v), want %s", got, err, next)
	}
}

func TestForkPullRequest(t *testing.T) {
	f := newFixture(t)
	fork := f.s.AddFork(f.repo, "mallory")
	head := fork.Commit("evil", "evil", map[string]string{"evil.txt": "x\n"})
	pr := f.s.AddPullRequest("acme/widgets", PullRequest{HeadRepo: "mallory/widgets", HeadRef: "evil", User: "mallory"})
	gh := f.installationClient(t)
	got, _, err := gh.PullRequests.Get(f.ctx, "acme", "widgets", pr.Number)
	if err != nil {
		t.Fatalf("get fork pull: %v", err)
	}
	if got.GetHead().GetRepo().GetFullName() != "mallory/widgets" || !got.GetHead().GetRepo().GetFork() || got.GetHead().GetSHA() != head {
		t.Errorf("head = %s fork=%v sha %s, want mallory/widgets fork at %s",
			got.GetHead().GetRepo().GetFullName(), got.GetHead().GetRepo().GetFork(), got.GetHead().GetSHA(), head)
	}
	// A check run on the fork's head commit is created in the base
	// repository, where GitHub has the commit through refs/pull/N/head.
	run, _, err := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", github.CreateCheckRunOptions{Name: "n", HeadSHA: head})
	if err != nil {
		t.Fatalf("check run on the fork head: %v", err)
	}
	if len(run.PullRequests) != 0 {
		t.Errorf("check run lists %d pull requests; GitHub leaves fork pull requests out", len(run.PullRequests))
	}
	files, _, err := gh.PullRequests.ListFiles(f.ctx, "acme", "widgets", pr.Number, nil)
	if err != nil || len(files) != 1 || files[0].GetFilename() != "evil.txt" {
		t.Errorf("fork pull files = %v, %v", files, err)
	}
	// The fork itself stays closed to the installation's token.
	if _, resp, _ := gh.Repositories.Get(f.ctx, "mallory", "widgets"); statusOf(resp) != http.StatusNotFound {
		t.Errorf("GET the private fork: status %d, want 404", statusOf(resp))
	}
}
