package templates

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/gatehouse/gatehouse/checks"
)

// hostileName is a file name a contributor can commit (no slash needed:
// browsers read the backslashes of the link as slashes).
const hostileName = `x|@acme-security [claim your reward](https:\\evil.example\p)|.env`

// hostile is every other string a repository controls, with the tricks
// each context has to defeat.
const hostile = "pwn | @acme-security <!-- #12 octo/repo#7 [reward](https://evil.example/p) ![i](https://evil.example/i.png) www.evil.example a@evil.example `tick` **bold** $x$ \u202egnp.exe\n\n# heading"

func TestMarkdownEscaping(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"text mention", mdText, "ping @octocat now", "ping @\u200boctocat now"},
		{"text team", mdText, "@acme/security", "@\u200bacme/security"},
		{"text address", mdText, "mail a@b.c", "mail a@\u200bb.c"},
		{"text html", mdText, "<!-- hide the rest", `\<\!-- hide the rest`},
		{"text entity", mdText, "&lt;b&gt;", `\&lt;b\&gt;`},
		{"text link", mdText, "[x](https://evil.example)", `\[x\](https:` + "\u200b" + `//evil.example)`},
		{"text backslash link", mdText, `[x](https:\\evil\p)`, `\[x\](https:\\\\evil\\p)`},
		{"text www", mdText, "see www.evil.example", "see www\u200b.evil.example"},
		{"text issue", mdText, "fixes #12 and o/r#3, not #x", "fixes \\#\u200b12 and o/r\\#\u200b3, not \\#x"},
		{"text lines", mdText, "multi\n\n  line\r\n# h", `multi line \# h`},
		{"text emphasis", mdText, "*a* _b_ ~c~ `d` $e$ |f|", "\\*a\\* \\_b\\_ \\~c\\~ \\`d\\` \\$e\\$ \\|f\\|"},
		{"text bidi", mdText, "a\u202eb\u2066c", "a\ufffdb\ufffdc"},
		{"cell pipe", mdCell, "a | b", `a \| b`},
		{"code plain", mdCode, "a|b @c", "`a|b @c`"},
		{"code backticks", mdCode, "a`b``c", "```a`b``c```"},
		{"code edge backtick", mdCode, "`x", "`` `x ``"},
		{"code edge spaces", mdCode, " x ", "`  x  `"},
		{"code newline", mdCode, "a\nb", "`a b`"},
		{"code empty", mdCode, "", ""},
		{"cell code pipe", mdCellCode, "a|b", "`a\\|b`"},
		{"cell code backslash pipe", mdCellCode, `a\|b`, "`a\\\\|b`"},
		{"link javascript", mdLink, "javascript:alert(1)", ""},
		{"link space", mdLink, "https://x.example/a b", ""},
		{"link github", mdLink, "https://github.com/o/r", "https://redirect.github.com/o/r"},
		{"link ok", mdLink, " https://avd.aquasec.com/x ", "https://avd.aquasec.com/x"},
		{"link breakout", mdLink, "https://x.example/a)[y](z)", ""},
		{"link backslash", mdLink, `https:\\evil.example\p`, ""},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%s: %q → %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	if got := mdText(strings.Repeat("x", 5000)); utf8.RuneCountInString(got) != maxProse {
		t.Errorf("mdText kept %d characters, want %d", utf8.RuneCountInString(got), maxProse)
	}
	if got := mdCell(strings.Repeat("|", 500)); strings.Count(got, `\|`) != maxCell-1 {
		t.Errorf("mdCell: %d escaped pipes, want %d", strings.Count(got, `\|`), maxCell-1)
	}
}

// hostileFinding is a finding whose every repository-controlled field is
// hostile: as a custom check (iac) or a lockfile (dependencies) can make it.
func hostileFinding(check string) checks.Evaluated {
	return checks.Evaluated{
		Finding: checks.Finding{
			Check: check, RuleID: "CUS|@acme-security [r](https:\\\\evil.example\\p)", Severity: checks.SeverityHigh,
			Title: hostile, Message: hostile,
			File: hostileName, StartLine: 3, EndLine: 3,
			Commit: "9a8b7c6d5e4f30211b2c3d4e5f60718293a4b5c6", Match: hostileName,
			Fingerprint: "0cc175b9c0f1b6a831c399e269772661",
			Custom:      hostileName,
			Remediation: checks.Remediation{
				Text: hostile, URL: "https://evil.example/a)[y](javascript:alert(1))",
				Package: hostileName, InstalledVersion: "1.0|@acme", FixedVersion: "2.0`|`",
			},
		},
		Status: checks.StatusNew, Blocking: true, Reason: hostile,
	}
}

// TestHostileNamesGolden renders every user-facing text with hostile names
// and strings, keeps it as a golden file, and renders that Markdown as
// GitHub does (GFM with autolinks) to check what a reader would get: no
// link but gatehouse's own, no mention, no HTML, every table cell whole
// (the hostile name shown exactly, in one cell).
func TestHostileNamesGolden(t *testing.T) {
	iac, deps, secret := hostileFinding(checks.IaC), hostileFinding(checks.Dependencies), hostileFinding(checks.Secrets)
	const details = "https://gatehouse.example.com/scans/42"
	iacV := checks.Verdict{
		Check: checks.IaC, Mode: "block", Conclusion: checks.ConclusionFailure, Title: hostile,
		Findings: []checks.Evaluated{iac}, Error: hostile, Notes: []string{hostile},
		Suppressed: []checks.Suppressed{{Finding: iac.Finding, Reason: hostile}},
		LimitHits:  []checks.Skip{{Path: hostileName, Reason: hostile, Limit: true}},
	}
	depsV := checks.Verdict{Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionFailure, Title: hostile, Findings: []checks.Evaluated{deps}}
	secretV := checks.Verdict{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure, Title: hostile, Findings: []checks.Evaluated{secret}}
	res := &checks.Result{
		Check: checks.IaC, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0"},
		Findings: []checks.Finding{iac.Finding},
		Scope: checks.Scope{
			Inputs: []string{hostileName}, Notes: []string{hostile},
			Skipped: []checks.Skip{{Path: hostileName, Reason: hostile}},
		},
		Custom: []checks.CustomStatus{{Name: hostileName, Origin: checks.OriginRepo}, {Name: hostileName, Origin: checks.OriginOrg, Rejected: hostile}},
	}
	render := map[string]func() (string, error){
		"hostile_summary_comment.md": func() (string, error) {
			return SummaryComment(SummaryData{Marker: "<!-- gatehouse:summary -->", HeadSHA: headSHA, Verdicts: []checks.Verdict{secretV, depsV, iacV}, Comments: true, DetailsURL: details})
		},
		"hostile_checkrun_iac.md": func() (string, error) {
			out, err := CheckRun(CheckRunData{
				Verdict: iacV, Result: res, Range: Range{Kind: "pull_request", Base: crBase, Head: crHead, PRNumber: 7},
				PolicyHash: "04ad722df867", PolicySource: []string{"repo (" + hostileName + ")"}, Now: now, DetailsURL: details,
			})
			return out.Summary + "\n---\n" + out.Text, err
		},
		"hostile_review_comment_iac.md": func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- m -->", Finding: iac, Anchor: "This finding has no line number: it is shown at the first change of " + hostileName + "."})
		},
		"hostile_review_comment_dependency.md": func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- m -->", Finding: deps})
		},
		"hostile_review_comment_secret.md": func() (string, error) {
			return ReviewComment(ReviewCommentData{Marker: "<!-- m -->", Finding: secret})
		},
		"hostile_review_body.md": func() (string, error) {
			return ReviewBody(ReviewBodyData{Marker: "<!-- m -->", Verdict: depsV, HeadSHA: headSHA, Outside: []checks.Evaluated{deps, iac}, Event: "REQUEST_CHANGES", DetailsURL: details})
		},
		"hostile_fixed_reply.md": func() (string, error) {
			return FixedReply(FixedReplyData{Marker: "<!-- m -->", Check: checks.IaC, HeadSHA: headSHA, Reason: hostile})
		},
	}
	for name, f := range render {
		t.Run(name, func(t *testing.T) {
			got, err := f()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
			checkRendered(t, got, details)
		})
	}
}

var (
	gfm      = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	hrefRE   = regexp.MustCompile(`<a href="([^"]*)"`)
	codeRE   = regexp.MustCompile(`(?s)<code>.*?</code>`)
	tagRE    = regexp.MustCompile(`<[^>]*>`)
	markerRE = regexp.MustCompile(`^<!-- (gatehouse:[a-z:0-9]+|m) -->\n`)
	cellRE   = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
)

// checkRendered renders md as GitHub-flavoured Markdown (raw HTML passed
// through, as GitHub keeps comments and some tags) and fails on anything
// a hostile string made of it.
func checkRendered(t *testing.T, md, details string) {
	t.Helper()
	out := gfmHTML(t, markerRE.ReplaceAllString(md, ""))
	for _, m := range hrefRE.FindAllStringSubmatch(out, -1) {
		if m[1] != details {
			t.Errorf("a link to %q was rendered", m[1])
		}
	}
	for _, tag := range []string{"<!--", "<img", "<h1", "<strong>bold"} {
		if strings.Contains(out, tag) {
			t.Errorf("%s… from a hostile string was rendered", tag)
		}
	}
	// Mentions, issue references and autolinks are GitHub's own, made on
	// the text outside code: none may be left there.
	text := tagRE.ReplaceAllString(codeRE.ReplaceAllString(out, ""), "")
	for _, bad := range []string{"@acme", "@evil", "#12", "repo#7", "://evil", "www.evil", "\u202e"} {
		if strings.Contains(text, bad) {
			t.Errorf("%q survived in the rendered text", bad)
		}
	}
	// The hostile name is shown whole, in code, and a table cell that
	// holds part of it holds all of it: it did not split the cell.
	name := "<code>" + htmlEscape(hostileName)
	if strings.Contains(md, "x|@acme") || strings.Contains(md, `x\|@acme`) {
		if !strings.Contains(out, name) {
			t.Errorf("the hostile name is not shown whole:\n%s", out)
		}
	}
	for _, m := range cellRE.FindAllStringSubmatch(out, -1) {
		shown := strings.ReplaceAll(tagRE.ReplaceAllString(m[1], ""), zwsp, "")
		if strings.Contains(shown, "claim your reward") && !strings.Contains(shown, htmlEscape(hostileName)) {
			t.Errorf("a table cell holds part of the hostile name: %q", m[1])
		}
	}
}

func gfmHTML(t *testing.T, md string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := gfm.Convert([]byte(md), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
