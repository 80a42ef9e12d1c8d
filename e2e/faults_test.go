package e2e

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// A burst of 502s and secondary rate limits from GitHub is retried, as
// GitHub asks, until every check run completes — once.
func TestGitHubErrorBurstIsRetried(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "docs", map[string]string{"docs.md": "hello\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	h := start(t, fake)

	fake.FailNext(3, http.StatusBadGateway, nil)
	fake.FailNext(1, http.StatusForbidden, map[string]string{"Retry-After": "1"})
	fake.FailNext(2, http.StatusBadGateway, nil)
	fake.FailNext(1, http.StatusTooManyRequests, map[string]string{"Retry-After": "1"})
	if code := h.deliver("pull_request", h.nextID(), prPayload(t, "opened", installation, repo, pr)); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	runs := h.waitRuns("octo/demo", pr.HeadSHA, 3)
	for _, r := range runs {
		if r.Conclusion != "success" {
			t.Errorf("%s = %s: %s", r.Name, r.Conclusion, r.Output.Summary)
		}
	}
	if n := len(fake.CheckRuns("octo/demo")); n != 3 {
		t.Errorf("%d check runs after retries, want 3", n)
	}
	faults := 0
	for _, r := range fake.Requests() {
		if r.Fault {
			faults++
		}
	}
	if faults != 7 {
		t.Errorf("%d injected faults were served, want 7", faults)
	}
}
