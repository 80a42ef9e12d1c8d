package report

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/checks"
)

// placement is where a finding's review comment goes.
type placement struct {
	line int    // RIGHT-side line; 0: not on the diff
	note string // why the comment is not on the finding's own line, if it is not
}

// place decides which line of the diff carries a finding's comment, or
// that none may:
//
//   - a finding with lines goes on its first line, or on the first line of
//     its range that the diff shows; none shown: outside the diff;
//   - a finding without a line (a lockfile entry trivy has no position
//     for) goes on the first change of its file, said so in the comment;
//   - a secret found in an earlier commit of the pull request carries that
//     commit's line numbers: the comment goes there only if the head's
//     added line still holds the unredacted part of the match, so a comment
//     never lands on a line that has moved on or been removed.
func place(f checks.Finding, d *DiffLines) placement {
	if f.File == "" {
		return placement{}
	}
	if f.StartLine <= 0 {
		line := d.firstChange(f.File)
		if line == 0 {
			return placement{}
		}
		return placement{line: line, note: fmt.Sprintf("This finding has no line number: it is shown at the first change of %s.", f.File)}
	}
	end := max(f.EndLine, f.StartLine)
	line := d.firstIn(f.File, f.StartLine, end)
	if line == 0 {
		return placement{}
	}
	if f.Check == checks.Secrets && !secretStillThere(f, d) {
		return placement{}
	}
	p := placement{line: line}
	if line != f.StartLine {
		p.note = fmt.Sprintf("The finding spans lines %d–%d; this comment sits on line %d, the first of them this pull request shows.", f.StartLine, end, line)
	}
	return p
}

// secretStillThere checks a secret finding against the head's added line:
// the part of its first line gitleaks left unredacted must be on it. A
// match that is all secret cannot be checked and is trusted.
func secretStillThere(f checks.Finding, d *DiffLines) bool {
	text, added := d.added(f.File, f.StartLine)
	if !added {
		return false // a secret the pull request adds sits on an added line
	}
	probe := matchProbe(f.Match)
	return probe == "" || strings.Contains(text, probe)
}

// matchProbe is the longest piece of a redacted match's first line that is
// not the redaction itself.
func matchProbe(match string) string {
	first, _, _ := strings.Cut(match, "\n")
	best := ""
	for _, piece := range strings.Split(first, "REDACTED") {
		if piece = strings.TrimSpace(piece); len(piece) > len(best) {
			best = piece
		}
	}
	return best
}
