package report

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// bigVerdict has n blocking findings whose table rows take well over 100
// characters each.
func bigVerdict(n int) checks.Verdict {
	var fs []checks.Evaluated
	for i := range n {
		f := finding(checks.Dependencies, fmt.Sprintf("CVE-2024-%05d", i), fmt.Sprintf("services/svc-%04d/package-lock.json", i), 3, 3, fmt.Sprintf("%032x", i))
		f.Remediation = checks.Remediation{Package: strings.Repeat("pkg", 15) + fmt.Sprint(i), InstalledVersion: "1.0.0", FixedVersion: "1.0.1"}
		fs = append(fs, f)
	}
	return verdict(checks.Dependencies, fs...)
}

func TestSummaryIsStickyAndFitsGitHub(t *testing.T) {
	e := newEnv(t)
	r := e.reviewer()
	summaryOnly := ReviewOptions{Summary: true, DetailsURL: "https://gatehouse.example.com/scans/7"}

	big := []checks.Verdict{verdict(checks.Secrets), bigVerdict(700)}
	rows := 0
	for _, f := range big[1].Findings {
		rows += len(f.File) + len(f.RuleID) + len(f.Remediation.Package) + 40
	}
	if rows < 70000 {
		t.Fatalf("fixture too small: %d characters of findings", rows)
	}
	res, err := r.Review(e.ctx, e.pr, big, e.diff(t), summaryOnly)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SummaryCreated || res.SummaryID == 0 {
		t.Fatalf("first verdict: %+v, want the summary created", res)
	}
	comments := e.fake.IssueComments("acme/widgets", 1)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want 1", len(comments))
	}
	body := comments[0].Body
	if n := utf8.RuneCountInString(body); n > templates.MaxCommentBody || n < templates.MaxCommentBody-3000 {
		t.Errorf("summary of %d characters: want it cut just under %d", n, templates.MaxCommentBody)
	}
	if !strings.HasPrefix(body, SummaryMarker) || !strings.Contains(body, "more blocking findings are not shown here") || !strings.Contains(body, "gatehouse.example.com/scans/7") {
		t.Errorf("cut summary lacks its marker, note or link; tail:\n%s", body[len(body)-400:])
	}

	// Same verdicts: nothing written. New verdicts: edited in place.
	if res, err = r.Review(e.ctx, e.pr, big, e.diff(t), summaryOnly); err != nil || res.SummaryUpdated || res.SummaryCreated {
		t.Fatalf("unchanged summary: %+v, %v", res, err)
	}
	e.push(t, map[string]string{"config.env": "# settings\nregion=eu-west-1\n"})
	clean := []checks.Verdict{verdict(checks.Secrets), verdict(checks.Dependencies)}
	res, err = r.Review(e.ctx, e.pr, clean, e.diff(t), summaryOnly)
	if err != nil {
		t.Fatal(err)
	}
	comments = e.fake.IssueComments("acme/widgets", 1)
	if !res.SummaryUpdated || len(comments) != 1 || comments[0].ID != res.SummaryID || comments[0].Edits != 1 {
		t.Fatalf("%+v, comments %d: want the one summary edited once", res, len(comments))
	}
	if !strings.Contains(comments[0].Body, "nothing blocks this pull request") || !strings.Contains(comments[0].Body, e.pr.HeadSHA[:7]) {
		t.Errorf("edited summary:\n%s", comments[0].Body)
	}
	if e.countOps("issues/create-comment") != 1 || e.countOps("issues/update-comment") != 1 {
		t.Errorf("created %d and edited %d times, want 1 and 1", e.countOps("issues/create-comment"), e.countOps("issues/update-comment"))
	}
}

func TestSummaryFindsItsCommentOnALaterPage(t *testing.T) {
	e := newEnv(t)
	r := e.reviewer()
	for i := range 130 {
		e.fake.AddIssueComment("acme/widgets", 1, "octocat", fmt.Sprintf("comment %d", i))
	}
	if _, err := r.Review(e.ctx, e.pr, e.firstRun(), e.diff(t), ReviewOptions{Summary: true}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Review(e.ctx, e.pr, []checks.Verdict{verdict(checks.Secrets)}, e.diff(t), ReviewOptions{Summary: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.SummaryCreated || !res.SummaryUpdated {
		t.Errorf("%+v: want the existing summary edited", res)
	}
	e.noSecretSent(t)
}
