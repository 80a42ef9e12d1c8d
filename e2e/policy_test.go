package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// orgSetup makes octo/demo and the org's octo/.github repository with a
// policy file, both in the installation.
func orgSetup(t *testing.T, orgPolicy string) (*githubtest.Server, *githubtest.Repo) {
	t.Helper()
	fake := githubtest.New(t)
	org := fake.AddRepo("octo", ".github")
	org.Commit("main", "org policy", map[string]string{".github/gatehouse.yml": orgPolicy})
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "initial", map[string]string{"README.md": "# demo\n"})
	fake.AddInstallation(installation, "octo", "octo/demo", "octo/.github")
	return fake, repo
}

func TestOrgPolicySetsIaCToWarn(t *testing.T) {
	fake, repo := orgSetup(t, "version: 1\nchecks:\n  iac:\n    mode: warn\n")
	repo.Commit("feature", "open ssh", map[string]string{"infra/sg.tf": fmt.Sprintf(openSG, "0.0.0.0/0")})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	iac := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/iac"]
	if iac.Conclusion != "neutral" {
		t.Errorf("iac = %s, want neutral under the org's warn mode:\n%s", iac.Conclusion, iac.Output.Summary)
	}
	if !strings.Contains(iac.Output.Summary, "org (octo/.github:.github/gatehouse.yml)") {
		t.Errorf("summary does not name the org policy:\n%s", iac.Output.Summary)
	}
}

func TestOrgEnforcedSecretsCannotBeTurnedOff(t *testing.T) {
	fake, repo := orgSetup(t, "version: 1\nchecks:\n  secrets:\n    mode: block\nenforce: [checks.secrets.mode]\n")
	repo.Commit("main", "repo policy", map[string]string{".github/gatehouse.yml": "version: 1\nchecks:\n  secrets:\n    mode: off\n"})
	repo.Commit("feature", "token", map[string]string{"ci.env": "TOKEN=" + plantedToken + "\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	sec := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/secrets"]
	if sec.Conclusion != "failure" {
		t.Errorf("secrets = %s, want failure: the org enforces block", sec.Conclusion)
	}
	if !strings.Contains(sec.Output.Summary, "held") {
		t.Errorf("summary does not say the repo's setting was held back:\n%s", sec.Output.Summary)
	}
}

func TestPullRequestCannotSwitchItsOwnGateOff(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "turn it off and add a token", map[string]string{
		".github/gatehouse.yml": "version: 1\nchecks:\n  secrets:\n    mode: off\n",
		"ci.env":                "TOKEN=" + plantedToken + "\n",
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	sec := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/secrets"]
	if sec.Conclusion != "failure" {
		t.Errorf("secrets = %s, want failure: policy comes from the base", sec.Conclusion)
	}
	if !strings.Contains(sec.Output.Summary, "takes effect after merge") {
		t.Errorf("summary does not say the policy change waits for the merge:\n%s", sec.Output.Summary)
	}
}

func TestExpiredExceptionNoLongerSuppresses(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	repo.Commit("main", "policy", map[string]string{".github/gatehouse.yml": fmt.Sprintf(`version: 1
exceptions:
  - id: AWS-0107
    reason: temporary bastion
    owner: "@infra"
    expires: %s
  - id: AWS-0104
    reason: egress is fine here
    expires: %s
`, yesterday, tomorrow)})
	repo.Commit("feature", "open ssh", map[string]string{"infra/sg.tf": fmt.Sprintf(openSG, "0.0.0.0/0")})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	iac := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/iac"]
	if iac.Conclusion != "failure" {
		t.Errorf("iac = %s, want failure: the exception expired yesterday", iac.Conclusion)
	}
	if !strings.Contains(iac.Output.Summary+iac.Output.Text, "expired on "+yesterday) {
		t.Errorf("output does not say the exception expired:\n%s\n%s", iac.Output.Summary, iac.Output.Text)
	}
}

// The tools' ignore files on the base branch are in force: a pull request
// whose token .gitleaksignore lists, and whose misconfiguration
// .trivyignore.yml lists, passes with both listed as suppressed.
func TestToolIgnoreConventions(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("main", "reviewed suppressions", map[string]string{
		".gitleaksignore":  "config/app.env:github-pat:2\n",
		".trivyignore.yml": "misconfigurations:\n  - id: AWS-0107\n    statement: the load balancer's own ingress\n",
	})
	repo.Commit("feature", "token and sg", map[string]string{
		"config/app.env": "APP=demo\nGITHUB_TOKEN=" + plantedToken + "\n",
		"infra/sg.tf":    fmt.Sprintf(openSG, "0.0.0.0/0"),
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	runs := scanAndWait(t, start(t, fake), repo, pr, "opened")
	sec, iac := runs["gatehouse/secrets"], runs["gatehouse/iac"]
	if sec.Conclusion == "failure" || !strings.Contains(sec.Output.Summary, "suppressed") {
		t.Errorf("secrets = %s, want the .gitleaksignore'd token suppressed and listed:\n%s", sec.Conclusion, sec.Output.Summary)
	}
	for _, a := range iac.Annotations {
		if strings.Contains(a.Title, "AWS-0107") {
			t.Errorf("AWS-0107 reported despite .trivyignore.yml: %+v", a)
		}
	}
	if !strings.Contains(iac.Output.Summary, ".trivyignore.yml") {
		t.Errorf("iac summary does not list the finding .trivyignore.yml suppressed:\n%s", iac.Output.Summary)
	}
}

func TestBrokenPolicyFailsWithItsLine(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("main", "policy", map[string]string{".github/gatehouse.yml": "version: 1\nchecks:\n  iac:\n    min_sevrity: low\n"})
	repo.Commit("feature", "docs", map[string]string{"docs.md": "x\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	runs := scanAndWait(t, start(t, fake), repo, pr, "opened")
	for name, r := range runs {
		if r.Conclusion != "failure" || !strings.Contains(r.Output.Title, ".github/gatehouse.yml:4") || !strings.Contains(r.Output.Title, "min_sevrity") {
			t.Errorf("%s = %s %q, want failure naming the file, line and key", name, r.Conclusion, r.Output.Title)
		}
	}
}
