package format

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/checks"
)

// Column widths past which table cells are cut with "…"; JSON and SARIF
// carry the full text.
const (
	maxTitle  = 50
	maxInputs = 8
	lineWidth = 100
	maxFix    = 60
)

// Text writes r as a plain-text report for a terminal: per check a header,
// what was scanned, a table of findings (blocking first, worst first), the
// suppressed findings with their reason, then one closing line with the
// verdict and the exit code. Secrets appear only as their redacted Match.
// Every string from the report is cleaned of control and bidi characters,
// so a hostile file name cannot drive the terminal.
func Text(w io.Writer, r *Report) error {
	cvs, err := views(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	writeTextHeader(&b, r)
	for _, cv := range cvs {
		b.WriteString("\n")
		writeTextCheck(&b, cv)
	}
	if len(cvs) == 0 {
		b.WriteString("\nno checks ran\n")
	}
	b.WriteString("\n" + closingLine(r, cvs) + "\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

func writeTextHeader(b *bytes.Buffer, r *Report) {
	line := "gatehouse scan of " + clean(r.Target)
	switch {
	case r.Head != "" && r.Base != "":
		line += ", commits " + clean(shortRev(r.Base)) + ".." + clean(shortRev(r.Head))
	case r.Head != "":
		line += ", commits up to " + clean(shortRev(r.Head))
	}
	b.WriteString(line + "\n")
	if r.PolicyHash != "" || len(r.PolicySources) > 0 {
		p := "policy"
		if r.PolicyHash != "" {
			p += " " + clean(shortHash(r.PolicyHash))
		}
		if len(r.PolicySources) > 0 {
			p += " from " + clean(strings.Join(r.PolicySources, ", "))
		}
		b.WriteString(p + "\n")
	}
}

func writeTextCheck(b *bytes.Buffer, cv checkView) {
	v := cv.verdict
	head := clean(v.Check)
	if cv.result != nil && cv.result.Engine.Name != "" {
		e := cv.result.Engine
		eng := clean(strings.TrimSpace(e.Name + " " + e.Version))
		if e.DataVersion != "" {
			eng += " (" + clean(e.DataVersion) + ")"
		}
		head += " — " + eng
	}
	head += " — " + clean(string(v.Conclusion))
	if v.Title != "" {
		head += ": " + clean(v.Title)
	}
	b.WriteString(head + "\n")
	if cv.result != nil {
		writeScope(b, cv.result.Scope, v.Conclusion != checks.ConclusionSkipped)
		for _, c := range cv.result.Custom {
			if c.Rejected != "" {
				b.WriteString("  rejected custom check: " + clean(c.Location()) + " (" + clean(c.Rejected) + ")\n")
			} else {
				b.WriteString("  custom check: " + clean(c.Name) + "\n")
			}
		}
	}
	for _, n := range v.Notes {
		b.WriteString("  note: " + clean(n) + "\n")
	}
	if v.Error != "" {
		b.WriteString("  error: " + clean(v.Error) + "\n")
	}
	switch {
	case len(cv.findings) > 0:
		writeFindingTable(b, cv.findings)
	case cv.result != nil:
		b.WriteString("  no findings\n")
	}
	if len(cv.suppressed) > 0 {
		fmt.Fprintf(b, "  suppressed (%d):\n", len(cv.suppressed))
		tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
		for _, s := range cv.suppressed {
			f := s.Finding
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", clean(f.RuleID), clean(f.Location()), clean(s.Reason))
		}
		tw.Flush()
	}
	if len(v.Pending) > 0 {
		fmt.Fprintf(b, "  suppression pending approval (%d): the change brings it for its own finding; it applies once an approver approves the pull request\n", len(v.Pending))
		tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
		for _, s := range v.Pending {
			f := s.Finding
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", clean(f.RuleID), clean(f.Location()), clean(s.Reason))
		}
		tw.Flush()
	}
}

// writeScope says what the check looked at, so "scanned nothing" never
// reads as "found nothing".
func writeScope(b *bytes.Buffer, s checks.Scope, ran bool) {
	if ran {
		var parts []string
		if s.Commits > 0 {
			parts = append(parts, plural(s.Commits, "commit", "commits"))
		}
		parts = append(parts, plural(s.Files, "file", "files"), humanBytes(s.Bytes))
		b.WriteString("  scanned: " + strings.Join(parts, ", ") + "\n")
	}
	if len(s.Inputs) > 0 {
		// A terminal line, not every lockfile of a monorepo: the JSON
		// and SARIF reports list them all.
		in := s.Inputs
		more := ""
		if len(in) > maxInputs {
			in, more = in[:maxInputs], fmt.Sprintf(" and %d more", len(s.Inputs)-maxInputs)
		}
		b.WriteString("  inputs: " + cut(clean(strings.Join(in, ", ")), lineWidth-len("  inputs: ")-len(more)) + more + "\n")
	}
	for _, sk := range s.Skipped {
		b.WriteString("  skipped: " + clean(sk.Path) + " (" + clean(sk.Reason) + ")\n")
	}
	for _, n := range s.Notes {
		b.WriteString("  note: " + clean(n) + "\n")
	}
}

// writeFindingTable prints one row per finding. COMMIT and MATCH columns
// appear only when some finding has them (secrets in git mode).
func writeFindingTable(b *bytes.Buffer, fs []checks.Evaluated) {
	rows := textOrder(fs)
	var withCommit, withMatch bool
	for _, f := range rows {
		withCommit = withCommit || f.Commit != ""
		withMatch = withMatch || f.Match != "" && f.Match != "REDACTED" // all "REDACTED" tells nothing
	}
	tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
	cols := []string{"  SEVERITY", "RULE", "LOCATION"}
	if withCommit {
		cols = append(cols, "COMMIT")
	}
	if withMatch {
		cols = append(cols, "MATCH")
	}
	// One fix for every row (a secret's is always "rotate it") is said
	// once under the table, in full, not cut short on every row.
	fixes := map[string]bool{}
	for _, f := range rows {
		fixes[rowFix(f)] = true
	}
	shared := ""
	if len(fixes) == 1 { // one row has one fix; no row, none
		shared = rowFix(rows[0])
	}
	cols = append(cols, "STATUS", "BLOCKING", "TITLE")
	if shared == "" {
		cols = append(cols, "FIX")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, f := range rows {
		cells := []string{"  " + f.Severity.String(), clean(f.RuleID), clean(f.Location())}
		if withCommit {
			cells = append(cells, dash(clean(shortRev(f.Commit))))
		}
		if withMatch {
			cells = append(cells, dash(clean(f.Match)))
		}
		cells = append(cells, dash(clean(string(f.Status))), yesNo(f.Blocking), dash(cut(clean(f.Title), maxTitle)))
		if shared == "" {
			cells = append(cells, dash(cut(clean(rowFix(f)), maxFix)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if shared != "" {
		b.WriteString(wrap("  fix: "+clean(shared), "       ", lineWidth))
	}
	var ids []string
	for _, f := range rows {
		if f.Check == checks.Secrets && f.File != "" {
			ids = append(ids, clean(f.GitleaksID()))
		}
	}
	if len(ids) > 0 {
		b.WriteString("  to accept one, add its line to .gitleaksignore (as the policy's suppressions allow):\n")
		for _, id := range ids {
			b.WriteString("    " + id + "\n")
		}
	}
}

// rowFix is a finding's fix: the fixed version, else the remediation.
func rowFix(f checks.Evaluated) string {
	if fix := fixText(&f.Finding); fix != "" {
		return fix
	}
	return f.Remediation.Text
}

// wrap breaks text into lines of at most width columns at spaces, the
// lines after the first starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	start := text[:len(text)-len(strings.TrimLeft(text, " "))]
	line, empty := start, true
	for _, w := range strings.Fields(text) {
		if !empty && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line, empty = line+w, false
	}
	return b.String() + line + "\n"
}

// textOrder puts blocking findings first, then the worst, keeping the
// location order of views within a tie.
func textOrder(fs []checks.Evaluated) []checks.Evaluated {
	out := make([]checks.Evaluated, 0, len(fs))
	for _, blockingPass := range []bool{true, false} {
		for sev := checks.SeverityCritical; sev >= checks.SeverityUnknown; sev-- {
			for _, f := range fs {
				if f.Blocking == blockingPass && clampSeverity(f.Severity) == sev {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

func clampSeverity(s checks.Severity) checks.Severity {
	if s < checks.SeverityUnknown || s > checks.SeverityCritical {
		return checks.SeverityUnknown
	}
	return s
}

// closingLine is the last line CI logs show: how many findings block, which
// checks could not run, and the exit code when it is not 0.
func closingLine(r *Report, cvs []checkView) string {
	n := blocking(cvs)
	var parts []string
	if n == 0 {
		parts = append(parts, "no blocking findings")
	} else {
		parts = append(parts, plural(n, "blocking finding", "blocking findings"))
	}
	var failed []string
	for _, cv := range cvs {
		if cv.verdict.Error != "" {
			failed = append(failed, clean(cv.verdict.Check))
		}
	}
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("%s could not run (%s)",
			plural(len(failed), "check", "checks"), strings.Join(failed, ", ")))
	}
	line := "gatehouse: " + strings.Join(parts, "; ")
	if code := ExitCode(r); code != 0 || len(failed) > 0 {
		line += fmt.Sprintf(" — exit %d", code)
	}
	return line
}

// clean makes report text safe for a terminal and a table: tabs and line
// breaks become spaces; other control characters (C0 and C1) and bidi
// overrides (the "trojan source" characters) are shown escaped; invalid
// UTF-8 becomes U+FFFD, so no raw byte can start an escape sequence.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case unsafeRune(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// cut shortens s to at most n runes, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// humanBytes prints a size in B, KiB, MiB or GiB with one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

// shortRev shortens a full commit id to 12 characters; other revisions
// (branch names, HEAD~3) are kept.
func shortRev(rev string) string {
	if len(rev) == 40 && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:12]
	}
	return rev
}

// shortHash keeps an optional "algo:" prefix and 12 characters of the digest.
func shortHash(h string) string {
	prefix, digest, ok := strings.Cut(h, ":")
	if !ok {
		prefix, digest = "", h
	} else {
		prefix += ":"
	}
	if len(digest) > 12 {
		digest = digest[:12]
	}
	return prefix + digest
}
