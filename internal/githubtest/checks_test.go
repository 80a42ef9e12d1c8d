package githubtest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

func annotations(n int) []*github.CheckRunAnnotation {
	out := make([]*github.CheckRunAnnotation, n)
	for i := range out {
		out[i] = &github.CheckRunAnnotation{
			Path: github.Ptr("app.txt"), StartLine: github.Ptr(i + 1), EndLine: github.Ptr(i + 1),
			AnnotationLevel: github.Ptr("failure"), Message: github.Ptr("finding"),
		}
	}
	return out
}

func TestCheckRunLifecycle(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	run, _, err := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", github.CreateCheckRunOptions{
		Name: "gatehouse/secrets", HeadSHA: f.pr.HeadSHA, ExternalID: github.Ptr("scan-1"),
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if run.GetStatus() != "queued" || run.GetHeadSHA() != f.pr.HeadSHA {
		t.Fatalf("created run = %s %s, want queued on %s", run.GetStatus(), run.GetHeadSHA(), f.pr.HeadSHA)
	}
	if len(run.PullRequests) != 1 || run.PullRequests[0].GetNumber() != f.pr.Number {
		t.Errorf("run.pull_requests = %v, want #%d", run.PullRequests, f.pr.Number)
	}
	if _, _, err := gh.Checks.UpdateCheckRun(f.ctx, "acme", "widgets", run.GetID(), github.UpdateCheckRunOptions{
		Name: "gatehouse/secrets", Status: github.Ptr("in_progress"),
	}); err != nil {
		t.Fatalf("update in_progress: %v", err)
	}
	for i, batch := range [][]*github.CheckRunAnnotation{annotations(50), annotations(7)} {
		opts := github.UpdateCheckRunOptions{
			Name:   "gatehouse/secrets",
			Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Annotations: batch},
		}
		if i == 1 {
			opts.Conclusion = github.Ptr("failure")
		}
		if _, _, err := gh.Checks.UpdateCheckRun(f.ctx, "acme", "widgets", run.GetID(), opts); err != nil {
			t.Fatalf("update batch %d: %v", i, err)
		}
	}
	runs := f.s.CheckRuns("acme/widgets")
	if len(runs) != 1 {
		t.Fatalf("CheckRuns = %d runs, want 1", len(runs))
	}
	got := runs[0]
	if len(got.Annotations) != 57 {
		t.Errorf("annotations = %d, want 57 appended across updates", len(got.Annotations))
	}
	want := []Transition{{"queued", ""}, {"in_progress", ""}, {"in_progress", ""}, {"completed", "failure"}}
	if len(got.Transitions) != len(want) {
		t.Fatalf("transitions = %v, want %v", got.Transitions, want)
	}
	for i := range want {
		if got.Transitions[i] != want[i] {
			t.Errorf("transition %d = %v, want %v", i, got.Transitions[i], want[i])
		}
	}
	if got.ExternalID != "scan-1" || got.CompletedAt == "" {
		t.Errorf("run = %+v, want external id scan-1 and a completion time", got)
	}

	// The annotations list pages through all 57.
	var all []*github.CheckRunAnnotation
	opts := &github.ListOptions{PerPage: 20}
	for {
		page, resp, err := gh.Checks.ListCheckRunAnnotations(f.ctx, "acme", "widgets", run.GetID(), opts)
		if err != nil {
			t.Fatalf("list annotations: %v", err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 57 {
		t.Errorf("listed %d annotations over pages, want 57", len(all))
	}
}

func TestCheckRunsForRefLatestPerName(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	for _, name := range []string{"a", "b", "a"} {
		if _, _, err := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", github.CreateCheckRunOptions{Name: name, HeadSHA: f.pr.HeadSHA}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		ref, filter string
		want        int
	}{
		{f.pr.HeadSHA, "", 2},
		{f.pr.HeadSHA, "all", 3},
		{"feature", "latest", 2},
		{"main", "", 0},
	} {
		var opts *github.ListCheckRunsOptions
		if tc.filter != "" {
			opts = &github.ListCheckRunsOptions{Filter: github.Ptr(tc.filter)}
		}
		res, _, err := gh.Checks.ListCheckRunsForRef(f.ctx, "acme", "widgets", tc.ref, opts)
		if err != nil {
			t.Fatalf("list %s %s: %v", tc.ref, tc.filter, err)
		}
		if res.GetTotal() != tc.want || len(res.CheckRuns) != tc.want {
			t.Errorf("list %s filter=%q: total %d, %d runs; want %d", tc.ref, tc.filter, res.GetTotal(), len(res.CheckRuns), tc.want)
		}
	}
}

func TestCheckRunLimits(t *testing.T) {
	long := strings.Repeat("x", 65536)
	for _, tc := range []struct {
		name string
		opts func(sha string) github.CreateCheckRunOptions
	}{
		{"51 annotations", func(sha string) github.CreateCheckRunOptions {
			return github.CreateCheckRunOptions{Name: "n", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Annotations: annotations(51)}}
		}},
		{"summary over 65535", func(sha string) github.CreateCheckRunOptions {
			return github.CreateCheckRunOptions{Name: "n", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr(long)}}
		}},
		{"text over 65535", func(sha string) github.CreateCheckRunOptions {
			return github.CreateCheckRunOptions{Name: "n", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Text: github.Ptr(long)}}
		}},
		{"unknown head sha", func(string) github.CreateCheckRunOptions {
			return github.CreateCheckRunOptions{Name: "n", HeadSHA: strings.Repeat("a", 40)}
		}},
		{"completed without conclusion", func(sha string) github.CreateCheckRunOptions {
			return github.CreateCheckRunOptions{Name: "n", HeadSHA: sha, Status: github.Ptr("completed")}
		}},
		{"columns across lines", func(sha string) github.CreateCheckRunOptions {
			a := annotations(1)
			a[0].EndLine, a[0].StartColumn, a[0].EndColumn = github.Ptr(3), github.Ptr(1), github.Ptr(2)
			return github.CreateCheckRunOptions{Name: "n", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Annotations: a}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			f := newFixture(rec)
			gh := f.installationClient(t)
			_, resp, err := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", tc.opts(f.pr.HeadSHA))
			if err == nil || statusOf(resp) != http.StatusUnprocessableEntity {
				t.Fatalf("create: status %d, err %v; want 422", statusOf(resp), err)
			}
			if len(rec.failures()) != 1 {
				t.Errorf("server reported %d test failures, want 1: %v", len(rec.failures()), rec.failures())
			}
			if n := len(f.s.CheckRuns("acme/widgets")); n != 0 {
				t.Errorf("%d check runs stored after a rejected create, want 0", n)
			}
		})
	}
}

func TestCheckRunFiftyAnnotationsAccepted(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	_, _, err := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", github.CreateCheckRunOptions{
		Name: "n", HeadSHA: f.pr.HeadSHA,
		Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr(strings.Repeat("é", 65535)), Annotations: annotations(50)},
	})
	if err != nil {
		t.Fatalf("create with 50 annotations and a 65535-character summary: %v", err)
	}
}
