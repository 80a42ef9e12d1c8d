package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

const checksDir = ".github/gatehouse/checks/"

// teamLabelCheck is the guide's Kubernetes example, as an org would commit it.
func teamLabelCheck(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "custom-checks", "kubernetes-team-label", "team_label.rego"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// deployment is a Deployment manifest whose metadata block is lines 3-6
// (3-7 with a team label).
func deployment(name, team string) string {
	labels := "    app: " + name + "\n"
	if team != "" {
		labels += "    team: " + team + "\n"
	}
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n  labels:\n" + labels +
		"spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: " + name + "\n"
}

func annotationsOf(run githubtest.CheckRun, rule string) []githubtest.Annotation {
	var out []githubtest.Annotation
	for _, a := range run.Annotations {
		if strings.Contains(a.Title, rule) {
			out = append(out, a)
		}
	}
	return out
}

// An org admin adds a check to the org's .github repository: a pull request
// in another repository that adds an unlabelled Deployment is blocked on
// the exact line, a labelled one is not reported, the review comment sits
// on that line, and the evidence names the check and its content hash.
func TestOrgCustomCheckHoldsEveryRepository(t *testing.T) {
	check := teamLabelCheck(t)
	fake, repo := orgSetup(t, "version: 1\n")
	fake.Repo("octo/.github").Commit("main", "team label check", map[string]string{checksDir + "team_label.rego": check})
	repo.Commit("feature", "two services", map[string]string{
		"k8s/web.yaml": deployment("web", ""),
		"k8s/api.yaml": deployment("api", "payments"),
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake, withEvidence(t))
	iac := scanAndWait(t, h, repo, pr, "opened")["gatehouse/iac"]

	got := annotationsOf(iac, "ORG-K8S-001")
	if len(got) != 1 || got[0].Path != "k8s/web.yaml" || got[0].StartLine != 3 || got[0].EndLine != 6 {
		t.Fatalf("ORG-K8S-001 annotations = %+v, want one on k8s/web.yaml lines 3-6 (the metadata of the unlabelled Deployment)\n%s", got, iac.Output.Text)
	}
	if iac.Conclusion != "failure" || !strings.Contains(iac.Output.Text, "Deployment 'web' has no team label") {
		t.Errorf("iac = %s, want failure with the check's message:\n%s\n%s", iac.Conclusion, iac.Output.Summary, iac.Output.Text)
	}
	if !strings.Contains(iac.Output.Summary, "Custom checks: 1 ran (org `octo/.github:.github/gatehouse/checks/team_label.rego`)") {
		t.Errorf("summary does not say which custom checks ran:\n%s", iac.Output.Summary)
	}
	var onLine bool
	for _, c := range fake.ReviewComments("octo/demo", pr.Number) {
		if c.Path == "k8s/web.yaml" && c.Line == 3 && strings.Contains(c.Body, "ORG-K8S-001") {
			onLine = true
		}
		if c.Path == "k8s/api.yaml" {
			t.Errorf("review comment on the labelled Deployment: %+v", c)
		}
	}
	if !onLine {
		t.Errorf("no review comment for ORG-K8S-001 on k8s/web.yaml: %+v", fake.ReviewComments("octo/demo", pr.Number))
	}

	id, _ := strings.CutPrefix(iac.DetailsURL, publicURL+"/v/")
	code, body := h.apiGet("/api/v1/verdicts/"+id, apiToken)
	if code != http.StatusOK {
		t.Fatalf("verdict: %d %s", code, body)
	}
	var env struct {
		Record evidence.Record `json:"record"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(check))
	var recorded bool
	for _, c := range env.Record.Checks {
		for _, cc := range c.CustomChecks {
			recorded = recorded || (c.Name == "iac" && cc.Name == "octo/.github:"+checksDir+"team_label.rego" && cc.Applied && cc.SHA256 == hex.EncodeToString(sum[:]))
		}
	}
	if !recorded {
		t.Errorf("the evidence does not list the org check with its hash: %s", body)
	}
}

// A pull request cannot add the check it is judged by: a check in the
// head's .github/gatehouse/checks is not loaded, and the summary says it
// takes effect after merge.
func TestCustomCheckAddedByThePullRequestIsNotLoaded(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	denyAll := strings.NewReplacer("ORG-K8S-001", "REPO-K8S-999", "team_label", "deny_all",
		"\tnot input.metadata.labels.team\n", "").Replace(teamLabelCheck(t))
	repo.Commit("feature", "a check of my own, and a deployment", map[string]string{
		checksDir + "deny_all.rego": denyAll,
		"k8s/web.yaml":              deployment("web", "payments"),
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	iac := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/iac"]
	if got := annotationsOf(iac, "REPO-K8S-999"); len(got) != 0 {
		t.Errorf("the head's check ran: %+v", got)
	}
	if strings.Contains(iac.Output.Summary, "Custom checks:") {
		t.Errorf("summary lists custom checks the base does not have:\n%s", iac.Output.Summary)
	}
	// Notes are escaped Markdown: the underscore shows as itself on GitHub.
	if !strings.Contains(iac.Output.Summary, "edits custom checks ("+checksDir+`deny\_all.rego): the edit takes effect after merge`) {
		t.Errorf("summary does not say the check takes effect after merge:\n%s", iac.Output.Summary)
	}
}

// A repository check that calls http.send makes no request and is named
// as rejected; one that does not compile is named with its line; the
// other checks, custom and built-in, still run.
func TestRejectedCustomChecksAreNamedAndTheRestRun(t *testing.T) {
	var hits atomic.Int32
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"allowed": true}`)
	}))
	defer listener.Close()
	phoneHome := strings.NewReplacer("ORG-K8S-001", "REPO-NET-001", "team_label", "phone_home",
		"\tnot input.metadata.labels.team\n", fmt.Sprintf("\tresp := http.send({\"method\": \"GET\", \"url\": %q})\n\tresp.body.allowed\n", listener.URL)).
		Replace(teamLabelCheck(t))
	broken := strings.NewReplacer("ORG-K8S-001", "REPO-BAD-001", "team_label", "broken",
		"deny contains res if {", "deny contains res if {{").Replace(teamLabelCheck(t))

	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("main", "custom checks", map[string]string{
		checksDir + "team_label.rego": teamLabelCheck(t),
		checksDir + "phone_home.rego": phoneHome,
		checksDir + "broken.rego":     broken,
	})
	repo.Commit("feature", "a deployment", map[string]string{"k8s/web.yaml": deployment("web", "")})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	iac := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/iac"]

	if n := hits.Load(); n != 0 {
		t.Errorf("the listener saw %d requests", n)
	}
	text := iac.Output.Text
	if !strings.Contains(text, "### Rejected custom checks") ||
		!strings.Contains(text, "`"+checksDir+"phone_home.rego:22` | repo | does not compile: calls http.send, which custom checks may not use (network access)") {
		t.Errorf("the http.send check is not named as rejected with its line:\n%s", text)
	}
	if !strings.Contains(text, "`"+checksDir+"broken.rego:22` | repo | does not parse") {
		t.Errorf("the broken check is not named with its line:\n%s", text)
	}
	if got := annotationsOf(iac, "ORG-K8S-001"); len(got) != 1 || got[0].StartLine != 3 {
		t.Errorf("the good custom check did not run: %+v", got)
	}
	if len(iac.Annotations) <= 1 {
		t.Errorf("no built-in finding on the Deployment: the built-in checks did not run: %+v", iac.Annotations)
	}
	if iac.Conclusion != "failure" || !strings.Contains(iac.Output.Title, "2 custom checks did not run") {
		t.Errorf("iac = %s %q, want failure that says 2 custom checks did not run", iac.Conclusion, iac.Output.Title)
	}
}

// A repository can turn custom checks off only where its org allows it:
// octo enforces checks.custom.mode, acme does not; both repositories set
// checks.custom.mode: off.
func TestRepoTurnsCustomChecksOffOnlyWhereTheOrgAllows(t *testing.T) {
	fake := githubtest.New(t)
	repoOff := map[string]string{".github/gatehouse.yml": "version: 1\nchecks:\n  custom:\n    mode: off\n"}
	var prs []githubtest.PullRequest
	var repos []*githubtest.Repo
	for i, org := range []struct{ name, policy string }{
		{"octo", "version: 1\nenforce: [checks.custom.mode]\n"},
		{"acme", "version: 1\n"},
	} {
		settings := fake.AddRepo(org.name, ".github")
		settings.Commit("main", "org settings", map[string]string{".github/gatehouse.yml": org.policy, checksDir + "team_label.rego": teamLabelCheck(t)})
		repo := fake.AddRepo(org.name, "demo")
		repo.Commit("main", "checks off here", repoOff)
		repo.Commit("feature", "a deployment", map[string]string{"k8s/web.yaml": deployment("web", "")})
		fake.AddInstallation(installation+int64(i), org.name, org.name+"/demo", org.name+"/.github")
		prs = append(prs, fake.AddPullRequest(org.name+"/demo", githubtest.PullRequest{HeadRef: "feature"}))
		repos = append(repos, repo)
	}
	h := start(t, fake)
	runs := make([]githubtest.CheckRun, 2)
	for i := range prs {
		if code := h.deliver("pull_request", h.nextID(), prPayload(t, "opened", installation+int64(i), repos[i], prs[i])); code != http.StatusAccepted {
			t.Fatalf("delivery answered %d", code)
		}
	}
	for i := range prs {
		runs[i] = byName(h.waitRuns(repos[i].FullName(), prs[i].HeadSHA, 3))["gatehouse/iac"]
	}
	h.waitIdle()

	enforced, free := runs[0], runs[1]
	if got := annotationsOf(enforced, "ORG-K8S-001"); len(got) != 1 || enforced.Conclusion != "failure" {
		t.Errorf("octo enforces custom checks, yet: %s %+v\n%s", enforced.Conclusion, got, enforced.Output.Summary)
	}
	if !strings.Contains(enforced.Output.Summary, "held at block by org enforce") {
		t.Errorf("octo's summary does not say the repo's off was held:\n%s", enforced.Output.Summary)
	}
	if got := annotationsOf(free, "ORG-K8S-001"); len(got) != 0 || strings.Contains(free.Output.Summary, "Custom checks:") {
		t.Errorf("acme does not enforce, the repo turned custom checks off, yet they ran: %+v\n%s", got, free.Output.Summary)
	}
}
