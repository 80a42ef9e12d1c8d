package e2e

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// The org requires the credential-files rules: the server's scan runs them
// on the pull request (a repo policy that drops them is held back), so a
// .pgpass password blocks, redacted.
func TestOrgEnforcedCredentialFilesBlock(t *testing.T) {
	fake, repo := orgSetup(t, "version: 1\nchecks:\n  secrets: {extra_rules: [credential-files]}\nenforce: [checks.secrets.extra_rules]\n")
	repo.Commit("main", "repo policy", map[string]string{".github/gatehouse.yml": "version: 1\nchecks:\n  secrets: {extra_rules: []}\n"})
	repo.Commit("feature", "db access", map[string]string{"ops/.pgpass": "db.corp.lan:5432:orders:app:Wq9-Lm3r-Tx7\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	sec := scanAndWait(t, start(t, fake), repo, pr, "opened")["gatehouse/secrets"]
	if sec.Conclusion != "failure" {
		t.Errorf("secrets = %s, want failure: the org requires credential-files:\n%s", sec.Conclusion, sec.Output.Summary)
	}
	all := sec.Output.Summary + sec.Output.Text
	if !strings.Contains(all, "credfile-pgpass-password") {
		t.Errorf("check run does not name credfile-pgpass-password:\n%s", all)
	}
	if strings.Contains(all, "Wq9-Lm3r-Tx7") {
		t.Errorf("check run shows the password:\n%s", all)
	}
}
