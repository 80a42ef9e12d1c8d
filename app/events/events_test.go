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
