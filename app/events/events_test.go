package events

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		event, action string
		want          bool
	}{
		{"pull_request", "opened", true}, {"pull_request", "closed", false},
		{"pull_request_review", "submitted", true}, {"pull_request_review", "dismissed", false},
		{"push", "", true}, {"check_run", "rerequested", true}, {"check_run", "created", false},
		{"issue_comment", "created", true}, {"issue_comment", "edited", false},
		{"installation", "suspend", true}, {"star", "created", false},
		{"merge_group", "checks_requested", true}, {"merge_group", "destroyed", true},
		{"deployment_protection_rule", "requested", true}, {"deployment_review", "requested", false},
	} {
		if got := Wants(tc.event, tc.action); got != tc.want {
			t.Errorf("Wants(%s, %s) = %v, want %v", tc.event, tc.action, got, tc.want)
		}
	}
}

// Every recorded example decodes into the type the planner switches on.
func TestDecodeRecordedExamples(t *testing.T) {
	for file, want := range map[string]any{
		"check_run.rerequested": &Rerun{}, "check_suite.rerequested": &Rerun{},
		"pull_request.opened": &github.PullRequestEvent{}, "pull_request_review.submitted": &github.PullRequestReviewEvent{},
		"push": &github.PushEvent{}, "issue_comment.created": &github.IssueCommentEvent{},
		"merge_group.checks_requested": &github.MergeGroupEvent{}, "merge_group.destroyed": &github.MergeGroupEvent{},
		"deployment_protection_rule.requested": &DeploymentGate{},
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "webhooks", file+".json"))
		if err != nil {
			t.Fatal(err)
		}
		event, _, _ := strings.Cut(file, ".")
		got, err := Decode(event, b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if gt, wt := fmt.Sprintf("%T", got), fmt.Sprintf("%T", want); gt != wt {
			t.Errorf("%s decoded as %s, want %s", file, gt, wt)
		}
	}
	if _, err := Decode("pull_request", []byte(`{"action":`)); err == nil {
		t.Error("a truncated payload decoded")
	}
}

// A deployment request names its workflow run in the callback URL, and
// the deployed commit.
func TestDeploymentGate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "webhooks", "deployment_protection_rule.requested.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode("deployment_protection_rule", b)
	if err != nil {
		t.Fatal(err)
	}
	g := got.(*DeploymentGate)
	if g.RunID() != 1234567890 || g.Environment != "production" || g.Commit() != "380387fbc80638b734a49e1be1c4dfec1c01b33c" || g.Installation.ID != 1 {
		t.Errorf("decoded %+v: run %d, commit %s", g, g.RunID(), g.Commit())
	}
	if (&DeploymentGate{CallbackURL: "https://api.github.com/repos/o/r/actions/runs/x/deployment_protection_rule"}).RunID() != 0 {
		t.Error("a callback URL without a run id gave one")
	}
}
