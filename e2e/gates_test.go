package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// mergeGroupPayload builds a merge_group delivery for a group of the
// queue of main: head is the gh-readonly-queue commit, base main's.
func mergeGroupPayload(t *testing.T, action string, repo *githubtest.Repo, headRef, head, base string) []byte {
	return example(t, "merge_group."+action, map[string]any{
		"action":                    action,
		"merge_group.head_sha":      head,
		"merge_group.head_ref":      "refs/heads/" + headRef,
		"merge_group.base_sha":      base,
		"merge_group.base_ref":      "refs/heads/main",
		"installation.id":           installation,
		"repository.full_name":      repo.FullName(),
		"repository.name":           repo.Name(),
		"repository.owner.login":    repo.Owner(),
		"repository.default_branch": repo.DefaultBranch(),
	})
}

// recordOf reads the evidence record a details URL names.
func recordOf(t *testing.T, h *harness, detailsURL string) evidence.Record {
	t.Helper()
	id, ok := strings.CutPrefix(detailsURL, publicURL+"/v/")
	if !ok || !evidence.ValidID(id) {
		t.Fatalf("details URL %q names no record", detailsURL)
	}
	code, body := h.apiGet("/api/v1/verdicts/"+id, apiToken)
	var env struct {
		Record evidence.Record `json:"record"`
	}
	if err := json.Unmarshal(body, &env); code != http.StatusOK || err != nil {
		t.Fatalf("verdict %s: %d %v %s", id, code, err, body)
	}
	return env.Record
}

// A merge queue's groups get the three check runs on their
// gh-readonly-queue commit, judged against the base: a group that brings
// a secret is blocked, a clean one passes. No comment is written (there is
// no pull request to write on), and the evidence records the group.
func TestMergeQueueGroups(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	base := repo.Head("main")
	blockedRef, cleanRef := "gh-readonly-queue/main/pr-1-"+base, "gh-readonly-queue/main/pr-2-"+base
	blocked := repo.Commit(blockedRef, "Merge pull request #1 from octo/deploy", map[string]string{"deploy.sh": "export GITHUB_TOKEN=" + plantedToken + "\n"})
	clean := repo.Commit(cleanRef, "Merge pull request #2 from octo/docs", map[string]string{"docs/usage.md": "# usage\n"})
	h := start(t, fake, withEvidence(t))
	for _, g := range []struct{ ref, head string }{{blockedRef, blocked}, {cleanRef, clean}} {
		if code := h.deliver("merge_group", h.nextID(), mergeGroupPayload(t, "checks_requested", repo, g.ref, g.head, base)); code != http.StatusAccepted {
			t.Fatalf("merge_group answered %d", code)
		}
	}
	bad := byName(h.waitRuns("octo/demo", blocked, 3))
	good := byName(h.waitRuns("octo/demo", clean, 3))
	h.waitIdle()
	if len(bad) != 3 || len(good) != 3 {
		t.Fatalf("check runs: %d on the blocked group, %d on the clean one; want 3 each", len(bad), len(good))
	}
	sec := bad["gatehouse/secrets"]
	if sec.Conclusion != "failure" || len(sec.Annotations) != 1 || sec.Annotations[0].Path != "deploy.sh" {
		t.Errorf("blocked group: secrets %s %+v", sec.Conclusion, sec.Annotations)
	}
	if !strings.Contains(sec.Output.Summary, "merge group `"+blocked[:7]+"` onto base `"+base[:7]+"`") {
		t.Errorf("the summary does not state the group's range:\n%s", sec.Output.Summary)
	}
	for name, r := range good {
		if r.Conclusion != "success" {
			t.Errorf("clean group: %s = %s (%s)", name, r.Conclusion, r.Output.Title)
		}
	}
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost && (strings.Contains(r.Path, "/pulls/") || strings.Contains(r.Path, "/issues/")) {
			t.Errorf("a merge group wrote on a pull request or issue: %s %s", r.Method, r.Path)
		}
	}
	rec := recordOf(t, h, sec.DetailsURL)
	if rec.Event.Kind != "merge_group" || rec.Commit.Head != blocked || rec.Commit.Base != base || rec.Commit.HeadRef != blockedRef ||
		rec.Commit.BaseRef != "main" || rec.Decision != "failure" {
		t.Errorf("evidence of the group: event %+v commit %+v decision %s", rec.Event, rec.Commit, rec.Decision)
	}
}

// A group the queue destroys before its scan starts is not scanned: its
// check runs are completed as cancelled and no verdict is recorded; a
// destroyed that is planned before its group's checks_requested leaves
// cancelled runs and the group is never planned. The deliveries are taken
// by a web-only process first, so the worker that starts next plans them
// in order.
func TestMergeGroupDestroyedCancels(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	base := repo.Head("main")
	refA, refB := "gh-readonly-queue/main/pr-3-"+base, "gh-readonly-queue/main/pr-4-"+base
	headA := repo.Commit(refA, "Merge pull request #3 from octo/feature", map[string]string{"deploy.sh": "export GITHUB_TOKEN=" + plantedToken + "\n"})
	headB := repo.Commit(refB, "Merge pull request #4 from octo/other", map[string]string{"other.sh": "export GITHUB_TOKEN=" + plantedToken + "\n"})
	dir := t.TempDir()
	inDir := func(role string, workers int) option {
		return func(c *server.Config) { c.DataDir, c.Role, c.Workers = dir, role, workers }
	}
	web := start(t, fake, withEvidence(t), inDir(server.RoleWeb, 1))
	for _, d := range []struct{ action, ref, head string }{
		{"checks_requested", refA, headA}, {"destroyed", refA, headA}, // the usual order
		{"destroyed", refB, headB}, {"checks_requested", refB, headB}, // the group left before it was planned
	} {
		if code := web.deliver("merge_group", web.nextID(), mergeGroupPayload(t, d.action, repo, d.ref, d.head, base)); code != http.StatusAccepted {
			t.Fatalf("%s answered %d", d.action, code)
		}
	}
	web.stop()
	h := start(t, fake, withEvidence(t), inDir(server.RoleAll, 1))
	h.waitRuns("octo/demo", headA, 3)
	h.waitRuns("octo/demo", headB, 3)
	h.waitIdle()
	runs := fake.CheckRuns("octo/demo") // as they stand once everything ran
	for _, r := range runs {
		if r.Conclusion != "cancelled" || r.Output.Title != "Merge group dequeued before its scan completed" {
			t.Errorf("%s on %s = %s %q, want cancelled", r.Name, r.HeadSHA[:7], r.Conclusion, r.Output.Title)
		}
	}
	if len(runs) != 6 {
		t.Errorf("%d check runs on the repository, want the two groups' 3 each", len(runs))
	}
	for _, head := range []string{headA, headB} {
		code, body := h.apiGet("/api/v1/verdicts?repo=octo/demo&sha="+head, apiToken)
		var page evidence.Page
		if err := json.Unmarshal(body, &page); code != http.StatusOK || err != nil || len(page.Verdicts) != 0 {
			t.Errorf("verdicts of the destroyed group %s: %d %v %s", head[:7], code, err, body)
		}
	}
}

// deploymentPayload builds a deployment_protection_rule delivery: run asks
// to deploy sha (of branch ref) to env.
func deploymentPayload(t *testing.T, fake *githubtest.Server, repo *githubtest.Repo, run int64, env, ref, sha string) []byte {
	return example(t, "deployment_protection_rule.requested", map[string]any{
		"environment":               env,
		"sha":                       sha,
		"ref":                       "refs/heads/" + ref,
		"deployment_callback_url":   fmt.Sprintf("%s/repos/%s/actions/runs/%d/deployment_protection_rule", fake.URL(), repo.FullName(), run),
		"deployment.sha":            sha,
		"deployment.ref":            ref,
		"deployment.environment":    env,
		"installation.id":           installation,
		"repository.full_name":      repo.FullName(),
		"repository.name":           repo.Name(),
		"repository.owner.login":    repo.Owner(),
		"repository.default_branch": repo.DefaultBranch(),
	})
}

// deploy asks gatehouse, as an environment's protection rule, whether run
// may deploy sha to env, and returns its answer.
func deploy(t *testing.T, h *harness, repo *githubtest.Repo, run int64, env, ref, sha string) githubtest.DeploymentAnswer {
	t.Helper()
	h.fake.RequestDeployment(repo.FullName(), run, env)
	sent := time.Now()
	if code := h.deliver("deployment_protection_rule", h.nextID(), deploymentPayload(t, h.fake, repo, run, env, ref, sha)); code != http.StatusAccepted {
		t.Fatalf("deployment_protection_rule answered %d", code)
	}
	deadline := time.Now().Add(3 * time.Minute) // a hang guard, not a performance assertion
	for {
		for _, a := range h.fake.DeploymentAnswers(repo.FullName()) {
			if a.RunID == run {
				t.Logf("workflow run %d (%s to %s): %s %s after the delivery", run, sha[:7], env, a.State, time.Since(sent).Round(time.Millisecond))
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer for workflow run %d (%s to %s)", run, sha[:7], env)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gatehouse as a custom deployment protection rule: the deployed commit's
// verdict, decided again under the environment's overlay, without
// scanning. main holds an existing critical vulnerability (lodash
// 4.17.11, CVE-2019-10744, fixed in 4.17.12) that does not block the
// branch; production's overlay (new_findings_only: false) rejects it
// while staging approves the same commit. A commit with a new secret is
// rejected everywhere; a commit never scanned is scanned first.
func TestDeploymentProtectionRule(t *testing.T) {
	fake := githubtest.New(t)
	sharedEngines(t)
	lock, err := os.ReadFile("../testdata/repos/deps/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "initial", map[string]string{
		"README.md":             "# demo\n",
		"package-lock.json":     string(lock),
		".github/gatehouse.yml": "version: 1\nenvironments:\n  production:\n    new_findings_only: false\n",
	})
	fake.AddInstallation(installation, "octo", "octo/demo")
	before := repo.Head("main")
	main := repo.Commit("main", "docs", map[string]string{"docs/usage.md": "# usage\n"})
	h := start(t, fake, withEvidence(t))
	if code := h.deliver("push", h.nextID(), pushPayload(t, installation, repo, "main", before, main)); code != http.StatusAccepted {
		t.Fatalf("push answered %d", code)
	}
	branch := byName(h.waitRuns("octo/demo", main, 3))
	h.waitIdle()
	if deps := branch["gatehouse/dependencies"]; deps.Conclusion != "neutral" {
		t.Fatalf("main's dependencies = %s, want neutral (the vulnerability exists before the push):\n%s", deps.Conclusion, deps.Output.Summary)
	}
	scans := len(fake.CheckRuns("octo/demo"))

	// The same commit: approved for staging, rejected for production.
	staging := deploy(t, h, repo, 101, "staging", "main", main)
	if staging.State != "approved" || staging.Environment != "staging" || !strings.Contains(staging.Comment, "approves `"+main[:7]+"` for `staging`") {
		t.Errorf("staging: %s\n%s", staging.State, staging.Comment)
	}
	prod := deploy(t, h, repo, 102, "production", "main", main)
	if prod.State != "rejected" {
		t.Errorf("production: %s, want rejected\n%s", prod.State, prod.Comment)
	}
	for _, want := range []string{"CVE-2019-10744", "package-lock.json", "lodash 4.17.11 → 4.17.12", "(with environments.production)", publicURL + "/v/"} {
		if !strings.Contains(prod.Comment, want) {
			t.Errorf("production's rejection does not name %q:\n%s", want, prod.Comment)
		}
	}
	if n := len(fake.CheckRuns("octo/demo")); n != scans {
		t.Errorf("deciding deployments made %d check runs: it must not scan a commit with a verdict", n-scans)
	}
	_, detailsURL, _ := strings.Cut(prod.Comment, ": "+publicURL)
	rec := recordOf(t, h, publicURL+strings.TrimSpace(detailsURL))
	if rec.Event.Kind != "deployment" || rec.Deployment == nil || rec.Deployment.Environment != "production" || rec.Deployment.State != "rejected" ||
		!rec.Deployment.Overlay || rec.Deployment.WorkflowRun != 102 || rec.Deployment.FromKind != "push" || rec.Commit.Head != main || rec.Decision != "failure" {
		t.Errorf("deployment evidence: event %+v deployment %+v commit %s decision %s", rec.Event, rec.Deployment, rec.Commit.Head, rec.Decision)
	}

	// A new secret is rejected everywhere.
	secret := repo.Commit("feature", "add token", map[string]string{"deploy.sh": "export GITHUB_TOKEN=" + plantedToken + "\n"})
	if code := h.deliver("push", h.nextID(), pushPayload(t, installation, repo, "feature", strings.Repeat("0", 40), secret)); code != http.StatusAccepted {
		t.Fatalf("push answered %d", code)
	}
	h.waitRuns("octo/demo", secret, 3)
	h.waitIdle()
	for i, env := range []string{"staging", "production"} {
		a := deploy(t, h, repo, int64(201+i), env, "feature", secret)
		if a.State != "rejected" || !strings.Contains(a.Comment, "gatehouse/secrets") || !strings.Contains(a.Comment, "deploy.sh") {
			t.Errorf("%s with a new secret: %s\n%s", env, a.State, a.Comment)
		}
	}

	// A commit gatehouse never saw is scanned first, then decided.
	unseen := repo.Commit("hotfix", "quick fix", map[string]string{"hotfix.env": "GITHUB_TOKEN=" + plantedToken + "\n"})
	a := deploy(t, h, repo, 301, "staging", "hotfix", unseen)
	if a.State != "rejected" || !strings.Contains(a.Comment, "hotfix.env") || !strings.Contains(a.Comment, "had no verdict yet: gatehouse scanned it") {
		t.Errorf("never-scanned commit: %s\n%s", a.State, a.Comment)
	}
}
