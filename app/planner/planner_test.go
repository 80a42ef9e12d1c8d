package planner

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/app/events"
	"github.com/gatehouse/gatehouse/app/jobs"
)

// decide decodes a payload once and plans it, as Plan does.
func decide(t *testing.T, event string, payload []byte) (jobs.Scan, error) {
	t.Helper()
	parsed, err := events.Decode(event, payload)
	if err != nil {
		return jobs.Scan{}, err
	}
	return Decide(parsed)
}

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/webhooks/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Decide on GitHub's recorded example payloads.
func TestDecide(t *testing.T) {
	tests := []struct {
		event, example string
		want           jobs.Scan
		ignored        bool
	}{
		{event: "pull_request", example: "pull_request.opened", want: jobs.Scan{Kind: jobs.ScanPullRequest, Repo: "Codertocat/Hello-World", PRNumber: 2}},
		{event: "pull_request", example: "pull_request.synchronize", want: jobs.Scan{Kind: jobs.ScanPullRequest}},
		{event: "pull_request", example: "pull_request.reopened", want: jobs.Scan{Kind: jobs.ScanPullRequest}},
		{event: "pull_request", example: "pull_request.ready_for_review", want: jobs.Scan{Kind: jobs.ScanPullRequest}},
		{event: "pull_request", example: "pull_request.closed", ignored: true},
		{event: "push", example: "push", want: jobs.Scan{Kind: jobs.ScanPush}},
		{event: "push", example: "push.deleted", ignored: true},
		{event: "check_run", example: "check_run.rerequested", want: jobs.Scan{Kind: jobs.ScanPush}},
		{event: "check_suite", example: "check_suite.rerequested", want: jobs.Scan{Kind: jobs.ScanPullRequest, PRNumber: 2}}, // the suite names its pull request
		{event: "ping", example: "ping", ignored: true},
		{event: "merge_group", example: "merge_group.checks_requested", want: jobs.Scan{Kind: jobs.ScanMergeGroup}},
		{event: "merge_group", example: "merge_group.destroyed", ignored: true},
	}
	for _, tt := range tests {
		t.Run(tt.example, func(t *testing.T) {
			got, err := decide(t, tt.event, load(t, tt.example))
			if tt.ignored {
				if !errors.Is(err, ErrIgnored) {
					t.Fatalf("Decide = %+v, %v; want ignored", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.want.Kind || got.HeadSHA == "" || got.InstallationID == 0 || got.Repo == "" {
				t.Errorf("Decide = %+v, want kind %s with head, installation and repo", got, tt.want.Kind)
			}
			if tt.want.Repo != "" && got.Repo != tt.want.Repo {
				t.Errorf("repo = %s, want %s", got.Repo, tt.want.Repo)
			}
			if tt.want.PRNumber != 0 && got.PRNumber != tt.want.PRNumber {
				t.Errorf("pr = %d, want %d", got.PRNumber, tt.want.PRNumber)
			}
			if got.Kind == jobs.ScanPullRequest && (got.BaseSHA == "" || got.BaseRef == "") {
				t.Errorf("pull request scan without a base: %+v", got)
			}
		})
	}
}

func TestDecidePushNewBranchHasNoBase(t *testing.T) {
	got, err := decide(t, "push", load(t, "push"))
	if err != nil {
		t.Fatal(err)
	}
	// The recorded push creates a branch: before is all zeros.
	if got.BaseSHA != "" {
		t.Errorf("new branch push has base %q, want none", got.BaseSHA)
	}
}

func TestDecideRejectsGarbage(t *testing.T) {
	if _, err := events.Decode("pull_request", []byte(`{"action":`)); err == nil || errors.Is(err, ErrIgnored) {
		t.Fatalf("err = %v, want a decode error", err)
	}
}

// A merge group is judged on its gh-readonly-queue head against the
// base branch's commit.
func TestDecideMergeGroup(t *testing.T) {
	got, err := decide(t, "merge_group", load(t, "merge_group.checks_requested"))
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Scan{
		InstallationID: 1, Repo: got.Repo, Kind: jobs.ScanMergeGroup,
		HeadSHA: "2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d", HeadRef: "gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64",
		BaseSHA: "380387fbc80638b734a49e1be1c4dfec1c01b33c", BaseRef: "main", DefaultBranch: got.DefaultBranch, Trigger: "merge_group.checks_requested",
	}
	if got.Repo == "" || got.DefaultBranch == "" || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Decide = %+v\nwant %+v", got, want)
	}
}

func TestDeployment(t *testing.T) {
	parsed, err := events.Decode("deployment_protection_rule", load(t, "deployment_protection_rule.requested"))
	if err != nil {
		t.Fatal(err)
	}
	g := parsed.(*events.DeploymentGate)
	got, err := Deployment(g)
	if err != nil {
		t.Fatal(err)
	}
	if got.RunID != 1234567890 || got.Environment != "production" || got.SHA == "" || got.Repo == "" || got.DeploymentID != 987654321 || got.InstallationID != 1 {
		t.Errorf("Deployment = %+v", got)
	}
	g.CallbackURL = ""
	if _, err := Deployment(g); !errors.Is(err, ErrIgnored) {
		t.Errorf("a request without a workflow run: err = %v, want ignored", err)
	}
}
