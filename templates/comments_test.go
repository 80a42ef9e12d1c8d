package templates

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/checks"
)

// rawSecret must never appear in anything rendered.
const rawSecret = "AKIAQYLPMN5HHHFPZAM2"

const headSHA = "4f1c2a9be07d3e5a8c6b0d1e2f3a4b5c6d7e8f90"

func secretFinding() checks.Evaluated {
	return checks.Evaluated{
		Finding: checks.Finding{
			Check: checks.Secrets, RuleID: "aws-access-token", Severity: checks.SeverityHigh,
			Title: "AWS Access Key ID",
			// A scanner bug that leaked the secret into the message must
			// not reach a comment: secrets show only Match.
			Message: "matched " + rawSecret,
			File:    "config/prod.env", StartLine: 3, EndLine: 3,
			Commit: "9a8b7c6d5e4f30211b2c3d4e5f60718293a4b5c6", Match: "aws_key=REDACTED",
			Fingerprint: "5d41402abc4b2a76b9719d911017c592",
			Remediation: checks.Remediation{Text: "rotate " + rawSecret, URL: "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/removing-sensitive-data-from-a-repository"},
		},
		Status: checks.StatusNew, Blocking: true, Reason: "mode block, any secret blocks",
	}
}

func depFinding(fixed string) checks.Evaluated {
	return checks.Evaluated{
		Finding: checks.Finding{
			Check: checks.Dependencies, RuleID: "CVE-2021-23337", Severity: checks.SeverityHigh,
			Title:   "nodejs-lodash: command injection via template",
			Message: "lodash 4.17.15 is affected by CVE-2021-23337. Reported by @someone in https://github.com/lodash/lodash/issues/5085 <!-- sneaky -->",
			File:    "package-lock.json", StartLine: 12, EndLine: 15,
			Fingerprint: "7b52009b64fd0a2a49e6d8a939753077",
			Remediation: checks.Remediation{
				Text: "upgrade lodash to " + fixed, URL: "https://avd.aquasec.com/nvd/cve-2021-23337",
				Package: "lodash", InstalledVersion: "4.17.15", FixedVersion: fixed,
			},
		},
		Status: checks.StatusNew, Blocking: true, Reason: "high ≥ min_severity medium",
	}
}

func iacFinding() checks.Evaluated {
	return checks.Evaluated{
		Finding: checks.Finding{
			Check: checks.IaC, RuleID: "AVD-AWS-0088", Severity: checks.SeverityMedium,
			Title:   "Unencrypted S3 bucket.",
			Message: "S3 Buckets should be encrypted to protect the data that is stored within them if access is compromised.",
			File:    "infra/main.tf", StartLine: 7, EndLine: 12,
			Fingerprint: "e4da3b7fbbce2345d7772b0674a318d5",
			Remediation: checks.Remediation{Text: "Configure bucket encryption", URL: "https://avd.aquasec.com/misconfig/avd-aws-0088"},
		},
		Status: checks.StatusNew, Blocking: true, Reason: "medium ≥ min_severity medium",
	}
}

func TestCommentGolden(t *testing.T) {
	warn := iacFinding()
	warn.Blocking, warn.Status, warn.Reason = false, checks.StatusExisting, "existing on base"
	verdicts := []checks.Verdict{
		{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure, Title: "1 new high finding blocks this pull request", Findings: []checks.Evaluated{secretFinding()}},
		{Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure, Title: "2 new high findings block this pull request", Findings: []checks.Evaluated{depFinding("4.17.21"), depFinding("")}},
		{Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionFailure, Title: "1 new medium finding blocks this pull request", Findings: []checks.Evaluated{iacFinding(), warn}, Error: ""},
	}
	verdicts[1].Findings[1].Fingerprint = "1679091c5a880faf6fb5e6087eb1b2dc"
	verdicts[1].Findings[1].RuleID = "GHSA-xxxx-yyyy-zzzz"
	for _, tc := range []struct {
		name   string
		render func() (string, error)
	}{
		{"review_comment_secret.md", func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- gatehouse:finding:5d41402abc4b2a76b9719d911017c592 -->", Finding: secretFinding()})
		}},
		{"review_comment_dependency.md", func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- m -->", Finding: depFinding("4.17.21")})
		}},
		{"review_comment_dependency_nofix.md", func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- m -->", Finding: depFinding(""), Anchor: "This finding has no line number: it is shown at the first change of package-lock.json."})
		}},
		{"review_comment_iac.md", func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- m -->", Finding: iacFinding()})
		}},
		{"review_body.md", func() (string, error) {
			return ReviewBody(ReviewBodyData{
				Marker: "<!-- gatehouse:review:dependencies -->", Verdict: verdicts[1], HeadSHA: headSHA,
				Commented: 1, Uncommented: 2, Outside: []checks.Evaluated{verdicts[1].Findings[1]},
				Event: "REQUEST_CHANGES", DetailsURL: "https://gatehouse.example.com/scans/42",
			})
		}},
		{"review_body_secret_outside.md", func() (string, error) {
			return ReviewBody(ReviewBodyData{Marker: "<!-- m -->", Verdict: verdicts[0], HeadSHA: headSHA, Outside: verdicts[0].Findings, Event: "COMMENT"})
		}},
		{"fixed_reply_secret.md", func() (string, error) {
			return FixedReply(FixedReplyData{Marker: "<!-- gatehouse:fixed:5d41402abc4b2a76b9719d911017c592 -->", Check: checks.Secrets, HeadSHA: headSHA})
		}},
		{"fixed_reply_iac.md", func() (string, error) {
			return FixedReply(FixedReplyData{Marker: "<!-- m -->", Check: checks.IaC, HeadSHA: headSHA})
		}},
		{"fixed_reply_no_longer_blocks.md", func() (string, error) {
			return FixedReply(FixedReplyData{Marker: "<!-- m -->", Check: checks.Dependencies, HeadSHA: headSHA, Reason: "gatehouse/dependencies suppresses it (exception CVE-2021-23337, owner @sec-team, expires 2026-12-31)"})
		}},
		{"summary_comment.md", func() (string, error) {
			errored := checks.Verdict{Check: "custom", Conclusion: checks.ConclusionFailure, Title: "Scan failed: internal error", Error: "trivy DB missing | run `gatehouse db update`"}
			skipped := checks.Verdict{Check: "licenses", Conclusion: checks.ConclusionSkipped, Title: "Turned off by policy"}
			return SummaryComment(SummaryData{
				Marker: "<!-- gatehouse:summary -->", HeadSHA: headSHA,
				Verdicts: append(append([]checks.Verdict(nil), verdicts...), errored, skipped), Comments: true,
				OnDiff:     map[string]bool{"5d41402abc4b2a76b9719d911017c592": true, "e4da3b7fbbce2345d7772b0674a318d5": true},
				DetailsURL: "https://gatehouse.example.com/scans/42",
			})
		}},
		{"summary_comment_clean.md", func() (string, error) {
			return SummaryComment(SummaryData{Marker: "<!-- gatehouse:summary -->", HeadSHA: headSHA, Verdicts: []checks.Verdict{
				{Check: checks.Secrets, Conclusion: checks.ConclusionSuccess, Title: "No secrets found"},
				{Check: checks.Dependencies, Conclusion: checks.ConclusionNeutral, Title: "1 existing finding, none block", Findings: []checks.Evaluated{warn}},
			}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(got, rawSecret) {
				t.Errorf("the raw secret reached %s:\n%s", tc.name, got)
			}
			golden(t, tc.name, got)
		})
	}
}

func TestSecretCommentShowsOnlyMatch(t *testing.T) {
	f := secretFinding()
	got, err := ReviewComment(ReviewCommentData{Finding: f})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "`aws_key=REDACTED`") || strings.Contains(got, f.Message) || strings.Contains(got, f.Remediation.Text) {
		t.Errorf("a secret's comment must show the redacted match and neither message nor remediation text:\n%s", got)
	}
	f.Match = ""
	got, err = ReviewComment(ReviewCommentData{Finding: f})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "a secret (not shown)") || strings.Contains(got, rawSecret) {
		t.Errorf("without a match the comment must say the secret is not shown:\n%s", got)
	}
}

// manyFindings returns n blocking findings with long titles, about size
// characters of table rows in all.
func manyFindings(n int) []checks.Evaluated {
	out := make([]checks.Evaluated, n)
	for i := range out {
		f := depFinding(fmt.Sprintf("1.0.%d", i))
		f.Fingerprint = fmt.Sprintf("%032x", i)
		f.File = fmt.Sprintf("services/service-%04d/package-lock.json", i)
		f.Remediation.Package = strings.Repeat("p", 40) + fmt.Sprint(i)
		out[i] = f
	}
	return out
}

func TestCommentsFitGitHubLimit(t *testing.T) {
	many := manyFindings(700) // each row is over 100 characters: 70,000 and more
	v := checks.Verdict{Check: checks.Dependencies, Conclusion: checks.ConclusionFailure, Title: "700 new high findings block this pull request", Findings: many}
	for _, tc := range []struct {
		name   string
		render func() (string, error)
		note   string
	}{
		{"summary", func() (string, error) {
			return SummaryComment(SummaryData{Marker: "<!-- gatehouse:summary -->", HeadSHA: headSHA, Verdicts: []checks.Verdict{v}, DetailsURL: "https://gatehouse.example.com/x"})
		}, "more blocking findings are not shown here"},
		{"review body", func() (string, error) {
			return ReviewBody(ReviewBodyData{Marker: "<!-- gatehouse:review:dependencies -->", Verdict: v, HeadSHA: headSHA, Outside: many, Event: "REQUEST_CHANGES"})
		}, "more blocking findings are not shown here"},
		{"comment with a huge match", func() (string, error) {
			f := secretFinding()
			f.Match = strings.Repeat("é", 40000) // 80,000 bytes
			return ReviewComment(ReviewCommentData{Marker: "<!-- gatehouse:finding:x -->", Finding: f})
		}, "cut to GitHub's comment size limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > MaxCommentBody || !utf8.ValidString(got) {
				t.Fatalf("rendered %d bytes (valid UTF-8: %v), limit %d", len(got), utf8.ValidString(got), MaxCommentBody)
			}
			if !strings.HasPrefix(got, "<!-- gatehouse:") {
				t.Errorf("the marker must stay first after cutting: %.80q", got)
			}
			if !strings.Contains(got, tc.note) {
				t.Errorf("no note %q in the cut text (tail %q)", tc.note, got[len(got)-300:])
			}
			if len(got) < MaxCommentBody-2000 {
				t.Errorf("cut to %d bytes: the table should fill the limit", len(got))
			}
		})
	}
}

// BenchmarkSummaryComment700 renders a summary whose 700 findings do not
// fit (the binary search renders it about ten times).
func BenchmarkSummaryComment700(b *testing.B) {
	v := checks.Verdict{Check: checks.Dependencies, Conclusion: checks.ConclusionFailure, Title: "700 findings", Findings: manyFindings(700)}
	for b.Loop() {
		if _, err := SummaryComment(SummaryData{Marker: "<!-- gatehouse:summary -->", HeadSHA: headSHA, Verdicts: []checks.Verdict{v}}); err != nil {
			b.Fatal(err)
		}
	}
}

// fitRows keeps the most rows that fit, whatever the rows' lengths, and
// renders far fewer times than there are rows.
func TestFitRowsFindsTheMostRowsThatFit(t *testing.T) {
	lengths := []int{}
	for i := range 700 {
		lengths = append(lengths, 40+(i*37)%300) // uneven rows
	}
	const frame = 500
	text := func(n int) string {
		size := frame
		for _, l := range lengths[:n] {
			size += l
		}
		return strings.Repeat("x", size)
	}
	for _, limit := range []int{frame - 1, frame, frame + 39, frame + 40, 20_000, 65_535, 1 << 20} {
		renders := 0
		got, err := fitRows(len(lengths), limit, "!", func(n int) (string, error) { renders++; return text(n), nil })
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for n := len(lengths); n >= 0; n-- {
			if len(text(n)) <= limit {
				want = n
				break
			}
		}
		switch {
		case limit < frame:
			if len(got) > limit || !strings.HasSuffix(got, "!") {
				t.Errorf("limit %d: frame alone too long, want it cut with the note; got %d bytes", limit, len(got))
			}
		case got != text(want):
			t.Errorf("limit %d: got %d bytes, want the %d rows that fit (%d bytes)", limit, len(got), want, len(text(want)))
		}
		t.Logf("limit %d: %d rows in %d renders", limit, want, renders)
		if renders > 8 { // bisection needs 11 or 12 here
			t.Errorf("limit %d: %d renders, want at most 8 (interpolation)", limit, renders)
		}
	}
}
