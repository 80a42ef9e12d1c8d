package githubtest

import (
	"net/http"
	"testing"

	"github.com/google/go-github/v88/github"
)

// A workflow run waiting on the app's rule takes its answer; runs and
// environments that wait on nothing are refused as GitHub refuses them.
func TestDeploymentProtectionRuleAnswers(t *testing.T) {
	f := newFixture(t, AllowRejections())
	gh := f.installationClient(t)
	f.s.RequestDeployment("acme/widgets", 77, "production")
	answer := func(run int64, env, state string) int {
		resp, err := gh.Actions.ReviewCustomDeploymentProtectionRule(f.ctx, "acme", "widgets", run, &github.ReviewCustomDeploymentProtectionRuleRequest{
			EnvironmentName: env, State: state, Comment: "because",
		})
		if err != nil && resp == nil {
			t.Fatal(err)
		}
		return statusOf(resp)
	}
	if got := answer(77, "production", "rejected"); got != http.StatusNoContent {
		t.Errorf("answer = %d, want 204", got)
	}
	if got := answer(78, "production", "approved"); got != http.StatusNotFound {
		t.Errorf("answer for a run that waits on nothing = %d, want 404", got)
	}
	if got := answer(77, "staging", "approved"); got != http.StatusUnprocessableEntity {
		t.Errorf("answer for an environment the run does not wait on = %d, want 422", got)
	}
	if got := answer(77, "production", "maybe"); got != http.StatusUnprocessableEntity {
		t.Errorf("answer with an unknown state = %d, want 422 (the description's enum)", got)
	}
	want := []DeploymentAnswer{{Repo: "acme/widgets", RunID: 77, Environment: "production", State: "rejected", Comment: "because"}}
	if got := f.s.DeploymentAnswers("acme/widgets"); len(got) != 1 || got[0] != want[0] {
		t.Errorf("answers = %+v, want %+v", got, want)
	}
}

// Answering needs the deployments permission.
func TestDeploymentProtectionRuleNeedsPermission(t *testing.T) {
	f := newFixture(t)
	f.s.SetInstallationPermissions(installationID, map[string]string{"checks": "write", "contents": "read", "metadata": "read"})
	f.s.RequestDeployment("acme/widgets", 77, "production")
	gh := f.installationClient(t)
	resp, _ := gh.Actions.ReviewCustomDeploymentProtectionRule(f.ctx, "acme", "widgets", 77, &github.ReviewCustomDeploymentProtectionRuleRequest{
		EnvironmentName: "production", State: "approved",
	})
	if statusOf(resp) != http.StatusForbidden {
		t.Errorf("answer without deployments: write = %d, want 403", statusOf(resp))
	}
	if n := len(f.s.DeploymentAnswers("acme/widgets")); n != 0 {
		t.Errorf("%d answers recorded without the permission", n)
	}
}
