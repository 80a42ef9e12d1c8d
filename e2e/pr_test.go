package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/githubtest"
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
	if code := h.deliver("pull_request", "pr-opened-1", body); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d, want 202", code)
	}
	runs := byName(h.waitRuns("octo/demo", pr.HeadSHA, 3))
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
	for _, r := range runs {
		if r.Conclusion != "success" {
			t.Errorf("%s = %s, want success: %s", r.Name, r.Conclusion, r.Output.Summary)
		}
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
