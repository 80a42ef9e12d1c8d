package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

var allOn = ReviewOptions{Comments: true, Summary: true, DetailsURL: "https://gatehouse.example.com/scans/1"}

// firstRun is the fixture's verdicts: one finding of each check on a
// changed line (the lockfile entry has no line), and two outside the diff.
func (e *env) firstRun() []checks.Verdict {
	gone := finding(checks.Secrets, "generic-api-key", "old/creds.txt", 1, 1, "f00d0002")
	gone.Match = "token=REDACTED"
	return []checks.Verdict{
		verdict(checks.Secrets, e.secret(), gone),
		verdict(checks.Dependencies, finding(checks.Dependencies, "CVE-2021-23337", "package-lock.json", 0, 0, "f00d0003")),
		verdict(checks.IaC,
			finding(checks.IaC, "AVD-AWS-0086", "infra/main.tf", 4, 7, "f00d0004"),
			finding(checks.IaC, "AVD-DS-0001", "README.md", 1, 1, "f00d0005")),
	}
}

func TestReviewPostsOnChangedLinesOnce(t *testing.T) {
	e := newEnv(t)
	for i := range 120 { // two pages of someone else's comments first
		e.fake.AddReviewComment("acme/widgets", githubtest.ReviewComment{PullNumber: 1, User: "octocat", Path: "app.txt", Line: 1, Body: "nit " + string(rune('a'+i%26))})
	}
	res, err := e.reviewer().Review(e.ctx, e.pr, e.firstRun(), e.diff(t), allOn)
	if err != nil {
		t.Fatal(err)
	}
	want := ReviewResult{Reviews: 3, Posted: 3, OutsideDiff: 2, SummaryID: res.SummaryID, SummaryCreated: true}
	if res != want {
		t.Errorf("first run = %+v, want %+v", res, want)
	}
	reviews := e.fake.Reviews("acme/widgets", 1)
	if len(reviews) != 3 {
		t.Fatalf("%d reviews, want one per verdict with findings", len(reviews))
	}
	for _, r := range reviews {
		if r.Event != EventRequestChanges || r.CommitID != e.pr.HeadSHA || len(r.CommentIDs) != 1 {
			t.Errorf("review %+v: want REQUEST_CHANGES on the head with one comment", r)
		}
	}
	if !strings.Contains(reviews[0].Body, "`old/creds.txt:1`") || !strings.Contains(reviews[2].Body, "`README.md:1`") {
		t.Errorf("findings outside the diff must be in their review's body:\n%s\n---\n%s", reviews[0].Body, reviews[2].Body)
	}
	got := map[string]githubtest.ReviewComment{}
	for _, c := range e.fake.ReviewComments("acme/widgets", 1) {
		if c.User == e.fake.BotLogin() {
			got[c.Path] = c
		}
	}
	for path, line := range map[string]int{"config.env": 2, "package-lock.json": 1, "infra/main.tf": 4} {
		c, ok := got[path]
		if !ok || c.Line != line || c.Side != "RIGHT" {
			t.Errorf("comment on %s: %+v, want line %d RIGHT", path, c, line)
		}
	}
	if len(got) != 3 {
		t.Errorf("app comments on %d files, want 3", len(got))
	}
	if b := got["config.env"].Body; !strings.HasPrefix(b, FindingMarker(checks.Secrets, "f00d0001")) || !strings.Contains(b, "`aws_key=REDACTED`") {
		t.Errorf("secret comment lacks its marker or redacted match:\n%s", b)
	}
	if b := got["package-lock.json"].Body; !strings.Contains(b, "no line number") {
		t.Errorf("a finding without a line must say where it is shown:\n%s", b)
	}

	// The same verdicts again (a retried job, a re-run): nothing new.
	before := len(e.fake.Requests())
	res, err = e.reviewer().Review(e.ctx, e.pr, e.firstRun(), e.diff(t), allOn)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReviewResult{Duplicates: 3, OutsideDiff: 2, SummaryID: want.SummaryID}); res != want {
		t.Errorf("second run = %+v, want %+v", res, want)
	}
	for _, r := range e.fake.Requests()[before:] {
		if r.Method != "GET" {
			t.Errorf("second run wrote %s %s", r.Method, r.Path)
		}
	}
	if n := len(e.fake.Reviews("acme/widgets", 1)); n != 3 {
		t.Errorf("%d reviews after the second run, want still 3", n)
	}
	e.noSecretSent(t)
}

func TestReviewRepliesFixedOnce(t *testing.T) {
	e := newEnv(t)
	if _, err := e.reviewer().Review(e.ctx, e.pr, e.firstRun(), e.diff(t), allOn); err != nil {
		t.Fatal(err)
	}
	// A push makes the bucket private again: the IaC finding on line 4 is
	// gone, the rest stays.
	e.push(t, map[string]string{"infra/main.tf": mainTF(false)})
	fixed := e.firstRun()
	fixed[2].Findings = fixed[2].Findings[1:]
	for run := 1; run <= 2; run++ {
		res, err := e.reviewer().Review(e.ctx, e.pr, fixed, e.diff(t), allOn)
		if err != nil {
			t.Fatal(err)
		}
		wantReplies := 0
		if run == 1 {
			wantReplies = 1
		}
		if res.FixedReplies != wantReplies || res.Reviews != 0 {
			t.Errorf("run %d after the fix: %+v, want %d fixed replies and no review", run, res, wantReplies)
		}
	}
	var replies []githubtest.ReviewComment
	for _, c := range e.fake.ReviewComments("acme/widgets", 1) {
		if c.InReplyTo != 0 {
			replies = append(replies, c)
		}
	}
	if len(replies) != 1 {
		t.Fatalf("%d replies, want exactly one", len(replies))
	}
	r := replies[0]
	if r.Path != "infra/main.tf" || !strings.HasPrefix(r.Body, FixedMarker("f00d0004")) || !strings.Contains(r.Body, "Fixed in `"+e.pr.HeadSHA[:7]+"`") {
		t.Errorf("reply %+v", r)
	}
	summary := e.fake.IssueComments("acme/widgets", 1)
	if len(summary) != 1 || summary[0].Edits != 1 || !strings.Contains(summary[0].Body, e.pr.HeadSHA[:7]) {
		t.Errorf("summary comments %+v: want one, edited once for the new head", summary)
	}

	// The finding comes back: a new thread, not silence.
	e.push(t, map[string]string{"infra/main.tf": mainTF(true)})
	res, err := e.reviewer().Review(e.ctx, e.pr, e.firstRun(), e.diff(t), allOn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 1 || res.Duplicates != 2 {
		t.Errorf("after the finding came back: %+v, want 1 posted and 2 duplicates", res)
	}
}

func TestReviewResolutionNeedsTheCheckToRun(t *testing.T) {
	e := newEnv(t)
	if _, err := e.reviewer().Review(e.ctx, e.pr, e.firstRun(), e.diff(t), allOn); err != nil {
		t.Fatal(err)
	}
	failed := e.firstRun()
	failed[2] = checks.Verdict{Check: checks.IaC, Conclusion: checks.ConclusionFailure, Title: "Scan failed", Error: "timeout"}
	failed[1] = checks.Verdict{Check: checks.Dependencies, Conclusion: checks.ConclusionSkipped, Title: "off"}
	warned := e.secret()
	warned.Blocking, warned.Reason = false, "mode warn"
	failed[0] = verdict(checks.Secrets, warned)
	res, err := e.reviewer().Review(e.ctx, e.pr, failed, e.diff(t), allOn)
	if err != nil {
		t.Fatal(err)
	}
	if res.FixedReplies != 1 {
		t.Fatalf("%+v: want only the secret's thread answered (the others' checks did not run)", res)
	}
	var reply string
	for _, c := range e.fake.ReviewComments("acme/widgets", 1) {
		if c.InReplyTo != 0 {
			reply = c.Body
		}
	}
	if !strings.Contains(reply, "No longer blocks") || !strings.Contains(reply, "mode warn") || !strings.Contains(reply, "rotate it now") {
		t.Errorf("reply to a finding that no longer blocks:\n%s", reply)
	}
}

func TestReviewQuietCases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verdicts func(e *env) []checks.Verdict
		opts     ReviewOptions
		reviews  int
		event    string
	}{
		{"clean pull request", func(e *env) []checks.Verdict {
			return []checks.Verdict{verdict(checks.Secrets), verdict(checks.Dependencies), verdict(checks.IaC)}
		}, allOn, 0, ""},
		{"findings that do not block", func(e *env) []checks.Verdict {
			f := e.secret()
			f.Blocking = false
			return []checks.Verdict{verdict(checks.Secrets, f)}
		}, allOn, 0, ""},
		{"only outside the diff", func(e *env) []checks.Verdict {
			return []checks.Verdict{verdict(checks.IaC, finding(checks.IaC, "AVD-DS-0001", "README.md", 1, 1, "f00d0005"))}
		}, allOn, 0, ""},
		{"comments off", func(e *env) []checks.Verdict { return e.firstRun() }, ReviewOptions{Summary: true}, 0, ""},
		{"comment event", func(e *env) []checks.Verdict { return e.firstRun()[:1] }, ReviewOptions{Comments: true, Event: EventComment}, 1, EventComment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.reviewer().Review(e.ctx, e.pr, tc.verdicts(e), e.diff(t), tc.opts); err != nil {
				t.Fatal(err)
			}
			reviews := e.fake.Reviews("acme/widgets", 1)
			if len(reviews) != tc.reviews {
				t.Fatalf("%d reviews, want %d", len(reviews), tc.reviews)
			}
			if tc.reviews > 0 && reviews[0].Event != tc.event {
				t.Errorf("event %s, want %s", reviews[0].Event, tc.event)
			}
			if !tc.opts.Comments && e.countOps("pulls/list-review-comments") != 0 {
				t.Errorf("comments off, yet review comments were listed")
			}
			summaries := e.fake.IssueComments("acme/widgets", 1)
			if tc.opts.Summary != (len(summaries) == 1) {
				t.Errorf("summary %v, %d summary comments", tc.opts.Summary, len(summaries))
			}
			e.noSecretSent(t)
		})
	}
}

func TestReviewSecretFromAnEarlierCommit(t *testing.T) {
	e := newEnv(t)
	first := e.pr.HeadSHA
	// Two lines land above the secret: the line gitleaks reported in the
	// first commit (2) now holds something else.
	e.push(t, map[string]string{"config.env": "# settings\n# owner: ops\n# see wiki\naws_key=" + rawSecret + "\nregion=eu-west-1\n"})
	early := e.secret()
	early.Commit = first
	moved := early
	moved.StartLine, moved.EndLine, moved.Fingerprint = 4, 4, "f00d0009"
	res, err := e.reviewer().Review(e.ctx, e.pr, []checks.Verdict{verdict(checks.Secrets, early, moved)}, e.diff(t), allOn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 1 || res.OutsideDiff != 1 {
		t.Errorf("%+v: want the stale line in the body and the current one commented", res)
	}
	for _, c := range e.fake.ReviewComments("acme/widgets", 1) {
		if c.Line != 4 {
			t.Errorf("comment on line %d, want 4 (where the secret is at head)", c.Line)
		}
	}
}

func TestReviewIgnoresMarkersFromOthers(t *testing.T) {
	e := newEnv(t)
	// Someone tries to silence the secret and to hijack the summary.
	e.fake.AddReviewComment("acme/widgets", githubtest.ReviewComment{PullNumber: 1, User: "mallory", Path: "config.env", Line: 2, Body: FindingMarker(checks.Secrets, "f00d0001") + "\nnothing to see"})
	e.fake.AddIssueComment("acme/widgets", 1, "mallory", SummaryMarker+"\nall good")
	res, err := e.reviewer().Review(e.ctx, e.pr, e.firstRun()[:1], e.diff(t), allOn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 1 || res.Duplicates != 0 || !res.SummaryCreated {
		t.Errorf("%+v: another user's markers must not count", res)
	}
}

func TestReviewFallsBackWhenGitHubRefusesTheLines(t *testing.T) {
	e := newEnv(t, githubtest.AllowRejections())
	// A rename with one changed line: GitHub's diff shows one hunk, a diff
	// without rename detection shows every line as added.
	lines := strings.Split(strings.TrimSuffix(numbered(40), "\n"), "\n")
	lines[29] = "line 30 changed"
	e.rename(t, "app.txt", "src/app.txt", strings.Join(lines, "\n")+"\n")
	v := verdict(checks.IaC, finding(checks.IaC, "X-1", "src/app.txt", 5, 5, "f00d0010"))

	// With GitHub's diff the line is known to be outside: no request fails.
	res, err := e.reviewer().Review(e.ctx, e.pr, []checks.Verdict{v}, e.gitDiff(t, "-M"), ReviewOptions{Comments: true})
	if err != nil || res.OutsideDiff != 1 || res.Reviews != 0 {
		t.Fatalf("with rename detection: %+v, %v", res, err)
	}
	// Without it, GitHub refuses the comment; the review is posted again
	// with the finding in its body.
	res, err = e.reviewer().Review(e.ctx, e.pr, []checks.Verdict{v}, e.gitDiff(t, "--no-renames"), ReviewOptions{Comments: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fallbacks != 1 || res.Reviews != 1 || res.Posted != 0 {
		t.Errorf("%+v: want one review posted after the fallback", res)
	}
	reviews := e.fake.Reviews("acme/widgets", 1)
	if len(reviews) != 1 || len(reviews[0].CommentIDs) != 0 || !strings.Contains(reviews[0].Body, "`src/app.txt:5`") {
		t.Errorf("reviews %+v", reviews)
	}
}

func TestReviewRejectsUnknownEvent(t *testing.T) {
	r := &Reviewer{}
	if _, err := r.Review(t.Context(), PullRequest{}, nil, nil, ReviewOptions{Event: "APPROVE"}); err == nil || !strings.Contains(err.Error(), "APPROVE") {
		t.Errorf("err = %v, want the event refused", err)
	}
}

func TestReviewCapsCommentsPerReview(t *testing.T) {
	e := newEnv(t)
	e.push(t, map[string]string{"many.txt": numbered(60)})
	var fs []checks.Evaluated
	for i := 1; i <= MaxReviewComments+5; i++ {
		fs = append(fs, finding(checks.IaC, "X-1", "many.txt", i, i, fmt.Sprintf("ab%04d", i)))
	}
	v := []checks.Verdict{verdict(checks.IaC, fs...)}
	res, err := e.reviewer().Review(e.ctx, e.pr, v, e.diff(t), ReviewOptions{Comments: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != MaxReviewComments || res.Uncommented != 5 {
		t.Errorf("%+v: want %d posted and 5 over the limit", res, MaxReviewComments)
	}
	if b := e.fake.Reviews("acme/widgets", 1)[0].Body; !strings.Contains(b, "5 more blocking findings on changed lines are not commented here") {
		t.Errorf("the review body must count what it left out:\n%s", b)
	}
	// The next run comments on the rest, and only the rest.
	res, err = e.reviewer().Review(e.ctx, e.pr, v, e.diff(t), ReviewOptions{Comments: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 5 || res.Duplicates != MaxReviewComments || res.Uncommented != 0 {
		t.Errorf("second run %+v: want the 5 left out posted", res)
	}
}
