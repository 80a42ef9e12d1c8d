package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// A GitHub token gitleaks' github-pat rule finds (random, never valid).
const plantedToken = "ghp_R8mZ2xQ7vN4kL9pW3sT6yB1cF5hJ0dG8aE2u"

const installation = 4242

// newRepo makes octo/demo on the fake with a clean main branch.
func newRepo(t *testing.T, fake *githubtest.Server) *githubtest.Repo {
	t.Helper()
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "initial", map[string]string{
		"README.md": "# demo\n",
		"main.go":   "package main\n\nfunc main() {}\n",
	})
	fake.AddInstallation(installation, "octo", "octo/demo")
	return repo
}

func TestPullRequestWithSecretBlocks(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "add config", map[string]string{
		"config/app.env": "APP_NAME=demo\nGITHUB_TOKEN=" + plantedToken + "\nDEBUG=false\n",
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)

	body := prPayload(t, "opened", installation, repo, pr)
	t0 := time.Now()
	if code := h.deliver("pull_request", "pr-opened-1", body); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d, want 202", code)
	}
	runs := byName(h.waitRuns("octo/demo", pr.HeadSHA, 3))
	t.Logf("verdict latency (in-process, no sandbox): %s", time.Since(t0).Round(time.Millisecond))
	h.waitIdle()
	if len(runs) != 3 {
		t.Fatalf("check runs = %v, want gatehouse/secrets, /dependencies, /iac", runs)
	}
	for name, r := range runs {
		var states []string
		for _, tr := range r.Transitions {
			states = append(states, tr.Status)
		}
		if states[0] != "queued" || !contains(states, "in_progress") || states[len(states)-1] != "completed" {
			t.Errorf("%s went %v, want queued → in_progress → completed", name, states)
		}
	}
	sec := runs["gatehouse/secrets"]
	if sec.Conclusion != "failure" {
		t.Errorf("secrets conclusion = %s, want failure (output %+v)", sec.Conclusion, sec.Output)
	}
	if len(sec.Annotations) != 1 || sec.Annotations[0].Path != "config/app.env" || sec.Annotations[0].StartLine != 2 || sec.Annotations[0].AnnotationLevel != "failure" {
		t.Errorf("secrets annotations = %+v, want one failure on config/app.env:2", sec.Annotations)
	}
	for _, name := range []string{"gatehouse/dependencies", "gatehouse/iac"} {
		if c := runs[name].Conclusion; c != "success" {
			t.Errorf("%s conclusion = %s, want success (%s)", name, c, runs[name].Output.Summary)
		}
	}
	// The secret must never travel to GitHub: not in a title, summary,
	// annotation or any other request body.
	for _, r := range fake.Requests() {
		if bytes.Contains(r.Body, []byte(plantedToken)) || bytes.Contains(r.Body, []byte(plantedToken[4:20])) {
			t.Errorf("request %s %s carries the secret", r.Method, r.Path)
		}
	}
	if !strings.Contains(sec.Output.Summary, "config/app.env:2") {
		t.Errorf("summary does not locate the finding:\n%s", sec.Output.Summary)
	}
}

func TestForgedAndDuplicateDeliveries(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "docs", map[string]string{"docs.md": "hello\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	body := prPayload(t, "opened", installation, repo, pr)

	if code := h.deliverSigned([]byte("not-the-secret"), "pull_request", "forged-1", body); code != http.StatusUnauthorized {
		t.Fatalf("forged delivery answered %d, want 401", code)
	}
	for range 3 {
		if code := h.deliver("pull_request", "same-delivery", body); code != http.StatusAccepted {
			t.Fatalf("delivery answered %d, want 202", code)
		}
	}
	runs := h.waitRuns("octo/demo", pr.HeadSHA, 3)
	h.waitIdle()
	for _, r := range runs {
		if r.Conclusion != "success" {
			t.Errorf("%s = %s, want success: %s", r.Name, r.Conclusion, r.Output.Summary)
		}
	}
	// A clean pull request gets three successes and no review.
	if rv := fake.Reviews("octo/demo", pr.Number); len(rv) != 0 {
		t.Errorf("clean pull request got reviews: %+v", rv)
	}
	// Nothing more arrives: exactly one set of check runs.
	if n := len(fake.CheckRuns("octo/demo")); n != 3 {
		t.Errorf("%d check runs, want 3 (one set)", n)
	}
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "forged") {
			t.Errorf("forged delivery reached GitHub: %s", r.Path)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// The review: one comment on the line that adds the secret; synchronize with
// the same finding adds no second comment; the fix is answered in the
// thread and the conclusion turns to success.
func TestReviewCommentsLifecycle(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "add config", map[string]string{
		"config/app.env": "APP_NAME=demo\nGITHUB_TOKEN=" + plantedToken + "\n",
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	runs := scanAndWait(t, h, repo, pr, "opened")
	if runs["gatehouse/secrets"].Conclusion != "failure" {
		t.Fatalf("secrets = %s", runs["gatehouse/secrets"].Conclusion)
	}
	comments := fake.ReviewComments("octo/demo", pr.Number)
	if len(comments) != 1 || comments[0].Path != "config/app.env" || comments[0].Line != 2 || comments[0].Side != "RIGHT" {
		t.Fatalf("review comments = %+v, want one on config/app.env:2", comments)
	}
	reviews := fake.Reviews("octo/demo", pr.Number)
	if len(reviews) != 1 || reviews[0].Event != "REQUEST_CHANGES" {
		t.Errorf("reviews = %+v, want one REQUEST_CHANGES", reviews)
	}
	summary := fake.IssueComments("octo/demo", pr.Number)
	if len(summary) != 1 || !strings.Contains(summary[0].Body, "gatehouse:summary") {
		t.Errorf("summary comments = %+v", summary)
	}

	// synchronize: an unrelated change, the same finding — no new comment.
	repo.Commit("feature", "more docs", map[string]string{"docs.md": "more\n"})
	pr = fake.SyncPullRequest("octo/demo", pr.Number)
	runs = scanAndWait(t, h, repo, pr, "synchronize")
	if runs["gatehouse/secrets"].Conclusion != "failure" {
		t.Errorf("secrets after synchronize = %s", runs["gatehouse/secrets"].Conclusion)
	}
	if n := len(fake.ReviewComments("octo/demo", pr.Number)); n != 1 {
		t.Errorf("%d review comments after synchronize, want still 1", n)
	}
	// Two scans, many API calls and two fetches: one installation token,
	// cached until shortly before it expires.
	if n := fake.TokenCount(); n != 1 {
		t.Errorf("%d installation tokens issued, want 1 (cached)", n)
	}

	for _, c := range fake.IssueComments("octo/demo", pr.Number) {
		for _, b := range []string{plantedToken, plantedToken[4:20]} {
			if strings.Contains(c.Body, b) {
				t.Errorf("summary comment carries the secret")
			}
		}
	}
	for _, c := range fake.ReviewComments("octo/demo", pr.Number) {
		if strings.Contains(c.Body, plantedToken[4:20]) {
			t.Errorf("review comment carries the secret")
		}
	}
}

const openSG = `resource "aws_security_group" "ssh" {
  name        = "ssh"
  description = "ssh access"
  ingress {
    description = "ssh"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["%s"]
  }
}
`

// A fix pushed to the pull request: the thread is answered once, the
// conclusion turns to success, and no new comment appears.
func TestFixPushedResolvesComment(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "open ssh", map[string]string{"infra/sg.tf": fmt.Sprintf(openSG, "0.0.0.0/0")})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	iac := scanAndWait(t, h, repo, pr, "opened")["gatehouse/iac"]
	if iac.Conclusion != "failure" {
		t.Fatalf("iac = %s:\n%s", iac.Conclusion, iac.Output.Summary)
	}
	comments := fake.ReviewComments("octo/demo", pr.Number)
	if len(comments) == 0 || comments[0].Path != "infra/sg.tf" || comments[0].Line != 9 {
		t.Fatalf("review comments = %+v, want one on infra/sg.tf:9", comments)
	}
	first := len(comments)

	repo.Commit("feature", "restrict ssh", map[string]string{"infra/sg.tf": fmt.Sprintf(openSG, "10.0.0.0/8")})
	pr = fake.SyncPullRequest("octo/demo", pr.Number)
	iac = scanAndWait(t, h, repo, pr, "synchronize")["gatehouse/iac"]
	if iac.Conclusion != "success" {
		t.Errorf("iac after the fix = %s:\n%s", iac.Conclusion, iac.Output.Summary)
	}
	var replies []githubtest.ReviewComment
	for _, c := range fake.ReviewComments("octo/demo", pr.Number) {
		if c.InReplyTo != 0 {
			replies = append(replies, c)
		}
	}
	if len(replies) != first || !strings.Contains(strings.ToLower(replies[0].Body), "fixed") {
		t.Errorf("replies = %+v, want one 'fixed' reply per finding", replies)
	}
	if s := fake.IssueComments("octo/demo", pr.Number); len(s) != 1 || s[0].Edits == 0 {
		t.Errorf("summary comment = %+v, want one, edited in place", s)
	}
}

// A pull request from a fork: the fork is outside the installation and the
// fake refuses it to the token; gatehouse reads refs/pull/N/head from the
// base repository and never touches the fork.
func TestForkPullRequest(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	fork := fake.AddFork(repo, "mallory")
	fork.Commit("patch", "helpful change", map[string]string{"config/app.env": "GITHUB_TOKEN=" + plantedToken + "\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRepo: fork.FullName(), HeadRef: "patch", User: "mallory"})
	h := start(t, fake)
	runs := scanAndWait(t, h, repo, pr, "opened")
	sec := runs["gatehouse/secrets"]
	if sec.Conclusion != "failure" || len(sec.Annotations) != 1 || sec.Annotations[0].Path != "config/app.env" {
		t.Errorf("secrets = %s %+v, want failure annotated on the fork's file", sec.Conclusion, sec.Annotations)
	}
	if sec.HeadSHA != pr.HeadSHA {
		t.Errorf("check run on %s, want the fork's head %s", sec.HeadSHA, pr.HeadSHA)
	}
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "mallory") {
			t.Errorf("gatehouse touched the fork: %s %s", r.Method, r.Path)
		}
	}
}

// The same flow with the store and queue on Postgres.
func TestPullRequestOnPostgres(t *testing.T) {
	pg := storetest.Config(t, store.DriverPostgres)
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "add config", map[string]string{"config/app.env": "GITHUB_TOKEN=" + plantedToken + "\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake, func(c *server.Config) { c.DatabaseURL = pg.URL })
	runs := scanAndWait(t, h, repo, pr, "opened")
	if runs["gatehouse/secrets"].Conclusion != "failure" || runs["gatehouse/iac"].Conclusion != "success" {
		t.Errorf("conclusions: secrets %s, iac %s", runs["gatehouse/secrets"].Conclusion, runs["gatehouse/iac"].Conclusion)
	}
	if n := len(fake.ReviewComments("octo/demo", pr.Number)); n != 1 {
		t.Errorf("%d review comments, want 1", n)
	}
}
