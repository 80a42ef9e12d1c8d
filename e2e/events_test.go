package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// scanAndWait delivers a pull_request event and waits for its check runs.
func scanAndWait(t *testing.T, h *harness, repo *githubtest.Repo, pr githubtest.PullRequest, action string) map[string]githubtest.CheckRun {
	t.Helper()
	if code := h.deliver("pull_request", h.nextID(), prPayload(t, action, installation, repo, pr)); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	runs := byName(h.waitRuns(repo.FullName(), pr.HeadSHA, 3))
	h.waitIdle()
	return runs
}

func prRef(pr githubtest.PullRequest) map[string]any {
	return map[string]any{
		"number": pr.Number,
		"head":   map[string]any{"sha": pr.HeadSHA, "ref": pr.HeadRef},
		"base":   map[string]any{"sha": pr.BaseSHA, "ref": pr.BaseRef},
	}
}

func TestRerunButtons(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "docs", map[string]string{"docs.md": "hello\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	scanAndWait(t, h, repo, pr, "opened")

	repoPatch := map[string]any{
		"installation.id": installation, "repository.full_name": "octo/demo", "repository.name": "demo",
		"repository.owner.login": "octo", "repository.default_branch": "main", "sender.login": "maintainer",
	}
	run := map[string]any{"action": "rerequested", "check_run.head_sha": pr.HeadSHA, "check_run.pull_requests": []any{prRef(pr)}}
	suite := map[string]any{"action": "rerequested", "check_suite.head_sha": pr.HeadSHA, "check_suite.pull_requests": []any{prRef(pr)}}
	for k, v := range repoPatch {
		run[k], suite[k] = v, v
	}
	if code := h.deliver("check_run", h.nextID(), example(t, "check_run.rerequested", run)); code != http.StatusAccepted {
		t.Fatalf("check_run answered %d", code)
	}
	h.waitRuns("octo/demo", pr.HeadSHA, 6)
	if code := h.deliver("check_suite", h.nextID(), example(t, "check_suite.rerequested", suite)); code != http.StatusAccepted {
		t.Fatalf("check_suite answered %d", code)
	}
	runs := h.waitRuns("octo/demo", pr.HeadSHA, 9)
	if len(runs) != 9 {
		t.Fatalf("%d completed runs, want 9 (three sets)", len(runs))
	}
}

func TestRescanComment(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "docs", map[string]string{"docs.md": "hello\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	fake.SetPermission("octo/demo", "maintainer", "write")
	fake.SetPermission("octo/demo", "visitor", "read")
	h := start(t, fake)
	scanAndWait(t, h, repo, pr, "opened")

	comment := func(user string) []byte {
		id := fake.AddIssueComment("octo/demo", pr.Number, user, "/gatehouse rescan")
		return example(t, "issue_comment.created", map[string]any{
			"installation.id": installation, "repository.full_name": "octo/demo", "repository.name": "demo",
			"repository.owner.login": "octo", "repository.default_branch": "main",
			"issue.number": pr.Number, "issue.pull_request": map[string]any{"url": fake.URL() + "/repos/octo/demo/pulls/" + fmt.Sprint(pr.Number)},
			"comment.id": id, "comment.body": "/gatehouse rescan", "comment.user.login": user, "comment.user.type": "User",
			"sender.login": user,
		})
	}
	// A reader may not ask for a rescan: the planner checks, and stops.
	if code := h.deliver("issue_comment", h.nextID(), comment("visitor")); code != http.StatusAccepted {
		t.Fatalf("comment answered %d", code)
	}
	if !eventually(func() bool { return requested(fake, "GET", "/repos/octo/demo/collaborators/visitor/permission") }) {
		t.Fatal("the visitor's permission was never checked")
	}
	if code := h.deliver("issue_comment", h.nextID(), comment("maintainer")); code != http.StatusAccepted {
		t.Fatalf("comment answered %d", code)
	}
	runs := h.waitRuns("octo/demo", pr.HeadSHA, 6)
	if len(runs) != 6 {
		t.Errorf("%d completed runs, want 6 (the rescan by the maintainer only)", len(runs))
	}
	var eyes int
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Path, "/reactions") && r.Method == "POST" {
			eyes++
			if !strings.Contains(string(r.Body), "eyes") {
				t.Errorf("reaction %s, want eyes", r.Body)
			}
		}
	}
	if eyes != 1 {
		t.Errorf("%d reactions, want 1 (👀 for the maintainer)", eyes)
	}
}

func requested(fake *githubtest.Server, method, path string) bool {
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// readTree reads a fixture directory into a map for Repo.Commit.
func readTree(t *testing.T, dir, prefix string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[prefix+filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestInstallationBaseline(t *testing.T) {
	fake := githubtest.New(t)
	a := fake.AddRepo("octo", "infra")
	a.Commit("main", "infra", readTree(t, "../testdata/repos/iac", ""))
	b := fake.AddRepo("octo", "docs")
	b.Commit("main", "docs", map[string]string{"README.md": "# docs\n"})
	fake.AddInstallation(installation, "octo", "octo/infra", "octo/docs")
	h := start(t, fake, func(c *server.Config) { c.BaselinePace = 1 })
	body := example(t, "installation.created", map[string]any{
		"installation.id":      installation,
		"installation.account": map[string]any{"login": "octo"},
		"repositories":         []any{map[string]any{"full_name": "octo/infra", "name": "infra"}, map[string]any{"full_name": "octo/docs", "name": "docs"}},
	})
	if code := h.deliver("installation", h.nextID(), body); code != http.StatusAccepted {
		t.Fatalf("installation answered %d", code)
	}
	infra := byName(h.waitRuns("octo/infra", a.Head("main"), 3))
	docs := byName(h.waitRuns("octo/docs", b.Head("main"), 3))
	if infra["gatehouse/iac"].Conclusion != "failure" || !strings.Contains(infra["gatehouse/iac"].Output.Summary, "baseline") {
		t.Errorf("infra iac = %s:\n%s", infra["gatehouse/iac"].Conclusion, infra["gatehouse/iac"].Output.Summary)
	}
	for name, r := range docs {
		if r.Conclusion != "success" {
			t.Errorf("docs %s = %s", name, r.Conclusion)
		}
	}
}

func TestPushToMainWithSecret(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	before := repo.Head("main")
	after := repo.Commit("main", "oops", map[string]string{"deploy.sh": "export GITHUB_TOKEN=" + plantedToken + "\n"})
	h := start(t, fake)
	if code := h.deliver("push", h.nextID(), pushPayload(t, installation, repo, "main", before, after)); code != http.StatusAccepted {
		t.Fatalf("push answered %d", code)
	}
	runs := byName(h.waitRuns("octo/demo", after, 3))
	sec := runs["gatehouse/secrets"]
	if sec.Conclusion != "failure" || len(sec.Annotations) != 1 || sec.Annotations[0].Path != "deploy.sh" {
		t.Errorf("secrets = %s %+v", sec.Conclusion, sec.Annotations)
	}
	if !strings.Contains(sec.Output.Summary, "pushed `"+before[:7]+".."+after[:7]+"`") {
		t.Errorf("summary does not state the pushed range:\n%s", sec.Output.Summary)
	}
}

func TestSecretAddedThenRemovedInPR(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "add token", map[string]string{"ci.env": "GITHUB_TOKEN=" + plantedToken + "\n"})
	repo.Commit("feature", "remove token", nil, "ci.env")
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	runs := scanAndWait(t, h, repo, pr, "opened")
	sec := runs["gatehouse/secrets"]
	if sec.Conclusion != "failure" {
		t.Fatalf("secrets = %s, want failure: a removed secret stays in history\n%s", sec.Conclusion, sec.Output.Summary)
	}
	if !strings.Contains(strings.ToLower(sec.Output.Text), "rotate") {
		t.Errorf("no rotation advice in:\n%s", sec.Output.Text)
	}
}

func TestExistingIaCFindingDoesNotBlock(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "infra", readTree(t, "../testdata/repos/iac", ""))
	fake.AddInstallation(installation, "octo", "octo/demo")
	repo.Commit("feature", "docs", map[string]string{"CONTRIBUTING.md": "be nice\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	runs := scanAndWait(t, h, repo, pr, "opened")
	iac := runs["gatehouse/iac"]
	if iac.Conclusion != "neutral" {
		t.Errorf("iac = %s, want neutral (findings exist on main, none new):\n%s", iac.Conclusion, iac.Output.Summary)
	}
	// Existing findings are listed in the check run, not annotated on
	// lines the pull request never touched.
	if len(iac.Annotations) != 0 {
		t.Errorf("existing findings annotated: %+v", iac.Annotations)
	}
	if !strings.Contains(iac.Output.Summary, "existing") {
		t.Errorf("summary does not say the findings are existing:\n%s", iac.Output.Summary)
	}
}

// tokens makes n distinct GitHub-token-shaped secrets.
func tokens(n int) []string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 36)
		for j := range b {
			b[j] = alnum[r.IntN(len(alnum))]
		}
		out[i] = "ghp_" + string(b)
	}
	return out
}

// Many findings: annotations go in batches of at most 50 (the fake rejects
// more), and a summary over 65,535 characters is cut with a note.
func TestManyFindingsBatchAndTruncate(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	toks := tokens(600)
	var b strings.Builder
	for i, tok := range toks {
		fmt.Fprintf(&b, "TOKEN_%03d_WITH_A_LONG_DESCRIPTIVE_NAME_FOR_A_WIDE_TABLE_ROW=%s\n", i, tok)
	}
	repo.Commit("feature", "many tokens", map[string]string{"secrets/all-of-them-in-one-file.env": b.String()})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	sec := scanAndWait(t, h, repo, pr, "opened")["gatehouse/secrets"]
	if len(sec.Annotations) != 600 {
		t.Errorf("%d annotations, want 600", len(sec.Annotations))
	}
	if sec.Requests < 1+600/50 {
		t.Errorf("%d requests for the check run, want at least %d (≤ 50 annotations each)", sec.Requests, 1+600/50)
	}
	if n := len(sec.Output.Summary); n > 65535 {
		t.Errorf("summary is %d characters", n)
	}
	if !strings.Contains(sec.Output.Summary, "more findings are not shown") {
		t.Errorf("summary is not marked as truncated (%d chars)", len(sec.Output.Summary))
	}
	for _, tok := range toks[:20] {
		for _, r := range fake.Requests() {
			if strings.Contains(string(r.Body), tok) {
				t.Fatalf("a secret was sent to GitHub in %s %s", r.Method, r.Path)
			}
		}
	}
}

// After the app is uninstalled its work stops: GitHub refuses the token,
// and the job is not retried.
func TestUninstalledInstallationStopsItsJobs(t *testing.T) {
	fake := githubtest.New(t, githubtest.AllowRejections())
	repo := newRepo(t, fake)
	repo.Commit("feature", "docs", map[string]string{"docs.md": "x\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)
	fake.RemoveInstallation(installation)
	if code := h.deliver("pull_request", h.nextID(), prPayload(t, "opened", installation, repo, pr)); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	h.waitIdle()
	tokenAsks := 0
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Path, "/access_tokens") {
			tokenAsks++
		}
	}
	if tokenAsks != 1 {
		t.Errorf("%d token requests, want 1 (no retries for a removed installation)", tokenAsks)
	}
}
