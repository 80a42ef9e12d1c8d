package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// reviewPayload builds an approving pull_request_review delivery.
func reviewPayload(t *testing.T, repo *githubtest.Repo, pr githubtest.PullRequest, reviewer string, id int64) []byte {
	return example(t, "pull_request_review.submitted", map[string]any{
		"action":                    "submitted",
		"installation.id":           installation,
		"repository.full_name":      repo.FullName(),
		"repository.name":           repo.Name(),
		"repository.owner.login":    repo.Owner(),
		"repository.default_branch": repo.DefaultBranch(),
		"pull_request.number":       pr.Number,
		"pull_request.state":        "open",
		"pull_request.user.login":   "octocat",
		"pull_request.head.sha":     pr.HeadSHA,
		"review.id":                 id,
		"review.state":              "approved",
		"review.user.login":         reviewer,
		"review.commit_id":          pr.HeadSHA,
	})
}

// A change never weakens its own gate: a secret and an IaC
// misconfiguration the pull request adds, with a .gitleaksignore line and
// a #trivy:ignore comment the same pull request adds, still block, listed
// as suppressions pending approval. An approval by a reader or by the
// author changes nothing; an approval by a writer applies them (decided
// from the stored scan, not scanned again) and the check runs say who
// approved; a later push that changes the suppressions needs a new
// approval.
func TestSuppressionsFromTheChangeWaitForApproval(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	fake.SetPermission("octo/demo", "writer", "write")
	fake.SetPermission("octo/demo", "reader", "read")
	repo.Commit("feature", "token", map[string]string{"config/app.env": "APP=demo\nGITHUB_TOKEN=" + plantedToken + "\n"})
	repo.Commit("feature", "ignore it", map[string]string{
		".gitleaksignore": "config/app.env:github-pat:2\n",
		"infra/sg.tf":     strings.Replace(fmt.Sprintf(openSG, "0.0.0.0/0"), "  ingress {", "  #trivy:ignore:AWS-0107\n  ingress {", 1),
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	runs := scanAndWait(t, h, repo, pr, "opened")
	h.waitIdle()
	for _, name := range []string{"gatehouse/secrets", "gatehouse/iac"} {
		r := runs[name]
		if r.Conclusion != "failure" || !strings.Contains(r.Output.Title, "pending approval") || !strings.Contains(r.Output.Summary, "Suppression pending approval") {
			t.Errorf("%s = %s %q, want failure with a suppression pending approval:\n%s", name, r.Conclusion, r.Output.Title, r.Output.Summary)
		}
	}
	scans := scanRequests(fake)

	current := func() map[string]githubtest.CheckRun {
		out := map[string]githubtest.CheckRun{}
		for _, r := range fake.CheckRuns("octo/demo") {
			if r.HeadSHA == pr.HeadSHA {
				out[r.Name] = r
			}
		}
		return out
	}
	for i, who := range []string{"reader", "octocat"} {
		if code := h.deliver("pull_request_review", h.nextID(), reviewPayload(t, repo, pr, who, int64(100+i))); code != http.StatusAccepted {
			t.Fatalf("review delivery answered %d", code)
		}
		h.waitIdle()
		if c := current()["gatehouse/secrets"].Conclusion; c != "failure" {
			t.Errorf("after an approval by %s secrets = %s, want still failure", who, c)
		}
	}

	if code := h.deliver("pull_request_review", h.nextID(), reviewPayload(t, repo, pr, "writer", 200)); code != http.StatusAccepted {
		t.Fatalf("review delivery answered %d", code)
	}
	h.waitIdle()
	after := current()
	for _, name := range []string{"gatehouse/secrets", "gatehouse/iac"} {
		// Markdown cells break @mentions with a zero-width space (templates/markdown.go).
		r := after[name]
		if r.Conclusion == "failure" || !strings.Contains(r.Output.Summary, "approved by @\u200bwriter") {
			t.Errorf("%s after the writer's approval = %s %q, want the suppressions applied and the approver named:\n%s", name, r.Conclusion, r.Output.Title, r.Output.Summary)
		}
	}
	if n := scanRequests(fake); n != scans {
		t.Errorf("the approval fetched code again (%d → %d git requests): it must decide from the stored scan", scans, n)
	}

	// A push that suppresses one more finding is a new set: it waits again.
	tokens := tokens(1)
	repo.Commit("feature", "another", map[string]string{
		"ci.env":          "GITHUB_TOKEN=" + tokens[0] + "\n",
		".gitleaksignore": "config/app.env:github-pat:2\nci.env:github-pat:1\n",
	})
	pr = fake.SyncPullRequest("octo/demo", pr.Number)
	runs = scanAndWait(t, h, repo, pr, "synchronize")
	if r := runs["gatehouse/secrets"]; r.Conclusion != "failure" || !strings.Contains(r.Output.Title, "pending approval") {
		t.Errorf("after a push changing the suppressions secrets = %s %q, want failure pending a new approval", r.Conclusion, r.Output.Title)
	}
}

// scanRequests counts the git fetches the fake has served.
func scanRequests(fake *githubtest.Server) int {
	n := 0
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Path, "git-upload-pack") {
			n++
		}
	}
	return n
}
