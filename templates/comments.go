package templates

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/checks"
)

// ReviewCommentData is an inline review comment on one blocking finding.
type ReviewCommentData struct {
	// Marker is the hidden HTML comment the reporter finds the comment by
	// later; it is rendered first, as is.
	Marker  string
	Finding checks.Evaluated
	// Anchor, when set, says why the comment does not sit on the finding's
	// own line ("no line number: shown at the first change of the file").
	Anchor string
	safeText
}

// ReviewBodyData is the body of one check's review.
type ReviewBodyData struct {
	Marker  string
	Verdict checks.Verdict
	HeadSHA string
	// Commented is the number of inline comments the review carries.
	Commented int
	// Uncommented counts blocking findings on changed lines left without a
	// comment because the review reached its comment limit.
	Uncommented int
	// Outside are the blocking findings that are not on a line the pull
	// request changes, so GitHub takes no comment on them.
	Outside []checks.Evaluated
	// Event is the review event, REQUEST_CHANGES or COMMENT.
	Event      string
	DetailsURL string

	// Filled while fitting the body into GitHub's limit.
	Rows    []checks.Evaluated
	Omitted int
	safeText
}

// FixedReplyData is the reply to a finding's thread once a push fixed it.
type FixedReplyData struct {
	Marker  string
	Check   string
	HeadSHA string
	// Reason, when set, is the sentence saying why a finding that is still
	// there no longer blocks; empty means it is gone.
	Reason string
	safeText
}

// SummaryData is the sticky summary comment of a pull request.
type SummaryData struct {
	Marker   string
	HeadSHA  string
	Verdicts []checks.Verdict
	// Comments says line comments are on, so the table says which
	// findings have one.
	Comments bool
	// OnDiff holds the fingerprints of blocking findings that carry (or
	// already carried) an inline review comment.
	OnDiff     map[string]bool
	DetailsURL string

	// Filled while fitting the comment into GitHub's limit.
	Rows    []SummaryRow
	Omitted int
	safeText
}

// SummaryRow is one blocking finding of the summary table.
type SummaryRow struct {
	checks.Evaluated
	OnDiff bool
}

// ReviewComment renders an inline review comment on a finding. For a
// secret it shows only the redacted Match, never the message.
func ReviewComment(d ReviewCommentData) (string, error) {
	out, err := render("review_comment.md.tmpl", d)
	if err != nil {
		return "", err
	}
	return hardCut(out, MaxCommentBody, commentCutNote), nil
}

// ReviewBody renders a review's body within GitHub's comment limit: when
// the findings outside the diff do not fit, the table is cut and says how
// many were left out.
func ReviewBody(d ReviewBodyData) (string, error) {
	rows := append([]checks.Evaluated(nil), d.Outside...)
	checks.SortEvaluated(rows)
	return fitRows(len(rows), MaxCommentBody, commentCutNote, func(n int) (string, error) {
		d.Rows, d.Omitted = rows[:n], len(rows)-n
		return render("review_body.md.tmpl", &d)
	})
}

// FixedReply renders the reply that tells a finding's thread it is fixed.
func FixedReply(d FixedReplyData) (string, error) {
	out, err := render("fixed_reply.md.tmpl", d)
	if err != nil {
		return "", err
	}
	return hardCut(out, MaxCommentBody, commentCutNote), nil
}

// SummaryComment renders the sticky summary comment: each check's
// conclusion and a table of the blocking findings, within GitHub's
// comment limit (the table is cut with a note when it does not fit).
func SummaryComment(d SummaryData) (string, error) {
	var rows []SummaryRow
	for _, v := range d.Verdicts {
		for _, f := range v.Findings {
			if f.Blocking {
				rows = append(rows, SummaryRow{Evaluated: f, OnDiff: d.OnDiff[f.Fingerprint]})
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.StartLine < b.StartLine
	})
	return fitRows(len(rows), MaxCommentBody, commentCutNote, func(n int) (string, error) {
		d.Rows, d.Omitted = rows[:n], len(rows)-n
		return render("summary_comment.md.tmpl", &d)
	})
}

// fitRows renders with as many rows as keep the text within limit bytes
// (bytes, not characters: a safe bound for GitHub's character limit).
// The note ends the text when even no rows leave it too long.
//
// It searches for the row count between a count that fits and one that
// does not. The text grows about linearly with the rows, so each probe is
// placed where the lengths seen so far say the limit falls (interpolation)
// and every other probe bisects, which bounds the worst case at twice a
// bisection's. A verdict of hundreds of findings renders 4 or 5 times
// instead of a bisection's 10 or more, on the path a verdict waits on.
func fitRows(total, limit int, note string, renderN func(n int) (string, error)) (string, error) {
	out, err := renderN(total)
	if err != nil || len(out) <= limit {
		return out, err
	}
	best, err := renderN(0)
	if err != nil {
		return "", err
	}
	lo, loLen := 0, len(best) // fits (or nothing does)
	hi, hiLen := total, len(out)
	for probe := 0; loLen <= limit && hi-lo > 1; probe++ {
		mid := lo + (hi-lo)/2
		if probe%2 == 0 && hiLen > loLen {
			mid = lo + int(float64(hi-lo)*float64(limit-loLen)/float64(hiLen-loLen))
			mid = min(max(mid, lo+1), hi-1)
		}
		s, err := renderN(mid)
		if err != nil {
			return "", err
		}
		if len(s) <= limit {
			lo, loLen, best = mid, len(s), s
		} else {
			hi, hiLen = mid, len(s)
		}
	}
	return hardCut(best, limit, note), nil
}

// commentCutNote ends a comment cut to GitHub's size limit.
const commentCutNote = "\n\n… cut to GitHub's comment size limit."

// hardCut is the last resort when even the frame does not fit: it cuts at
// a character boundary and says so. The start (with its marker) is kept.
func hardCut(s string, limit int, note string) string {
	if len(s) <= limit {
		return s
	}
	n := max(limit-len(note), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + note
}

// safeText gives the comment templates their helpers. Untrusted text goes
// through the Markdown escaping functions (markdown.go), as everywhere.
type safeText struct{}

// Fix is the fix column of a finding. A secret's is always the same
// sentence, so no scanner text about a secret reaches a comment.
func (safeText) Fix(f checks.Finding) string {
	if f.Check == checks.Secrets {
		return "rotate the secret: it stays in the git history"
	}
	return mdCell(FixText(f))
}

// Severity is a severity's name with a capital ("High").
func (safeText) Severity(s checks.Severity) string {
	n := s.String()
	return strings.ToUpper(n[:1]) + n[1:]
}

// ConclusionIcon marks a check's conclusion in the summary.
func (safeText) ConclusionIcon(c checks.Conclusion) string {
	switch c {
	case checks.ConclusionSuccess:
		return "✅"
	case checks.ConclusionFailure:
		return "❌"
	case checks.ConclusionSkipped:
		return "⏭️"
	}
	return "⚪"
}

// Counts returns a verdict's blocking and other findings.
func (safeText) Counts(v checks.Verdict) [2]int {
	b := v.Blocking()
	return [2]int{b, len(v.Findings) - b}
}

// TotalBlocking counts the blocking findings of all verdicts.
func (d SummaryData) TotalBlocking() int {
	n := 0
	for _, v := range d.Verdicts {
		n += v.Blocking()
	}
	return n
}
