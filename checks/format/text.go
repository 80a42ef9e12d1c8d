package format

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/checks"
)

// The text report fits a terminal of lineWidth columns (counted in runes):
// cells and paths are cut with "…", prose wraps. JSON and SARIF carry the
// full text. The one exception is a .gitleaksignore line, which is
// copy-paste material and is never cut (see writeFindingTable).
const (
	lineWidth = 100
	maxRule   = 28 // the RULE column; a longer id is also printed whole under its row
	maxStatus = 10
	maxMatch  = 24
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
	b.WriteString("\n" + wrap(closingLine(r, cvs), "  ", lineWidth))
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

func writeTextHeader(b *bytes.Buffer, r *Report) {
	const prefix = "gatehouse scan of "
	line := prefix + cutPath(clean(r.Target), lineWidth-len(prefix))
	switch {
	case r.Head != "" && r.Base != "":
		line += ", commits " + clean(shortRev(r.Base)) + ".." + clean(shortRev(r.Head))
	case r.Head != "":
		line += ", commits up to " + clean(shortRev(r.Head))
	}
	b.WriteString(wrap(line, "  ", lineWidth))
	if r.PolicyHash != "" || len(r.PolicySources) > 0 {
		p := "policy"
		if r.PolicyHash != "" {
			p += " " + clean(shortHash(r.PolicyHash))
		}
		if len(r.PolicySources) > 0 {
			p += " from " + clean(strings.Join(r.PolicySources, ", "))
		}
		b.WriteString(wrap(p, "  ", lineWidth))
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
	b.WriteString(wrap(head, "    ", lineWidth))
	if cv.result != nil {
		writeScope(b, cv.result.Scope, v.Conclusion != checks.ConclusionSkipped)
		for _, c := range cv.result.Custom {
			if c.Rejected != "" {
				const prefix = "  rejected custom check: "
				b.WriteString(wrap(prefix+cutPath(clean(c.Location()), lineWidth-len(prefix))+" ("+clean(c.Rejected)+")", "    ", lineWidth))
			} else {
				const prefix = "  custom check: "
				b.WriteString(prefix + cutPath(clean(c.Name), lineWidth-len(prefix)) + "\n")
			}
		}
	}
	for _, n := range v.Notes {
		b.WriteString(wrap("  note: "+clean(n), "    ", lineWidth))
	}
	if v.Error != "" {
		b.WriteString(wrap("  error: "+clean(v.Error), "    ", lineWidth))
	}
	switch {
	case len(cv.findings) > 0:
		writeFindingTable(b, cv.findings)
	case cv.result != nil:
		b.WriteString("  no findings\n")
	}
	if len(cv.suppressed) > 0 {
		fmt.Fprintf(b, "  suppressed (%d):\n", len(cv.suppressed))
		writeSuppressions(b, cv.suppressed)
	}
	if len(v.Pending) > 0 {
		b.WriteString(wrap(fmt.Sprintf("  suppression pending approval (%d): the change brings it for its own finding; "+
			"it applies once an approver approves the pull request", len(v.Pending)), "    ", lineWidth))
		writeSuppressions(b, v.Pending)
	}
}

// writeSuppressions prints each suppressed finding's rule and location,
// then why it is suppressed, wrapped under it.
func writeSuppressions(b *bytes.Buffer, ss []checks.Suppressed) {
	ruleW := 0
	for _, s := range ss {
		ruleW = max(ruleW, width(clean(s.Finding.RuleID)))
	}
	ruleW = min(ruleW, maxRule)
	for _, s := range ss {
		f := s.Finding
		b.WriteString(strings.TrimRight("    "+pad(cut(clean(f.RuleID), ruleW), ruleW)+"  "+
			cutPath(clean(f.Location()), lineWidth-6-ruleW), " ") + "\n")
		if s.Reason != "" {
			b.WriteString(wrap("      "+clean(s.Reason), "      ", lineWidth))
		}
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
		b.WriteString(inputsLine(s.Inputs) + "\n")
	}
	for _, sk := range s.Skipped {
		const prefix = "  skipped: "
		b.WriteString(wrap(prefix+cutPath(clean(sk.Path), lineWidth-len(prefix))+" ("+clean(sk.Reason)+")", "    ", lineWidth))
	}
	for _, n := range s.Notes {
		b.WriteString(wrap("  note: "+clean(n), "    ", lineWidth))
	}
}

// inputsLine names as many of a check's inputs as fit one line and counts
// the rest: a monorepo's thousand lockfiles are the JSON and SARIF
// reports' to list.
func inputsLine(in []string) string {
	const prefix = "  inputs: "
	more := func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf(" and %d more", n)
	}
	line := ""
	for i, name := range in {
		next := clean(name)
		if i > 0 {
			next = line + ", " + next
		}
		if width(prefix+next+more(len(in)-i-1)) > lineWidth {
			if i == 0 { // not even the first fits: its tail does
				return prefix + cutPath(next, lineWidth-len(prefix)-width(more(len(in)-1))) + more(len(in)-1)
			}
			return prefix + line + more(len(in)-i)
		}
		line = next
	}
	return prefix + line
}

// writeFindingTable prints one row per finding (severity, rule, status,
// blocking, title) and, under it, where the finding is: its location, the
// commit and redacted match of a secret, and a dependency's upgrade. Advice
// that is the same for every finding of a rule (an IaC remediation, a
// secret's "rotate it") follows the table once per rule, in full; so do the
// .gitleaksignore lines of secrets.
func writeFindingTable(b *bytes.Buffer, fs []checks.Evaluated) {
	rows := textOrder(fs)
	const sevW, blockW = len("SEVERITY"), len("BLOCKING")
	ruleW, statusW := len("RULE"), len("STATUS")
	for _, f := range rows {
		ruleW = max(ruleW, width(clean(f.RuleID)))
		statusW = max(statusW, width(clean(string(f.Status))))
	}
	ruleW, statusW = min(ruleW, maxRule), min(statusW, maxStatus)
	titleW := lineWidth - (2 + sevW + 2 + ruleW + 2 + statusW + 2 + blockW + 2)
	row := func(sev, rule, status, blocking, title string) {
		b.WriteString("  " + pad(sev, sevW) + "  " + pad(rule, ruleW) + "  " + pad(status, statusW) +
			"  " + pad(blocking, blockW) + "  " + title + "\n")
	}
	row("SEVERITY", "RULE", "STATUS", "BLOCKING", "TITLE")
	under := strings.Repeat(" ", 2+sevW+2) // the details start under RULE
	for _, f := range rows {
		rule := clean(f.RuleID)
		row(cut(f.Severity.String(), sevW), cut(dash(rule), ruleW), cut(dash(clean(string(f.Status))), statusW),
			yesNo(f.Blocking), cut(dash(clean(f.Title)), titleW))
		b.WriteString(under + where(f.Finding, lineWidth-len(under)) + "\n")
		if width(rule) > ruleW {
			b.WriteString(wrap(under+"rule: "+rule, under+"  ", lineWidth))
		}
		if fix := fixText(&f.Finding); fix != "" {
			b.WriteString(wrap(under+"fix: "+clean(fix), under+"     ", lineWidth))
		}
	}
	writeAdvice(b, rows)
	var ids []string
	for _, f := range rows {
		if f.Check == checks.Secrets && f.File != "" {
			ids = append(ids, clean(f.GitleaksID()))
		}
	}
	if len(ids) > 0 {
		b.WriteString("  to accept one, add its line to .gitleaksignore (as the policy's suppressions allow):\n")
		for _, id := range ids {
			// Never cut: a line a user copies must be whole. A path long
			// enough to push an id past lineWidth makes this line longer.
			b.WriteString("    " + id + "\n")
		}
	}
}

// where is a finding's location, with a secret's commit and redacted
// match, in at most n columns: a long path keeps its tail.
func where(f checks.Finding, n int) string {
	var extra []string
	if f.Commit != "" {
		extra = append(extra, "commit "+clean(shortRev(f.Commit)))
	}
	if f.Match != "" && f.Match != "REDACTED" { // "REDACTED" tells nothing
		extra = append(extra, "match "+cut(clean(f.Match), maxMatch))
	}
	tail := ""
	if len(extra) > 0 {
		tail = " (" + strings.Join(extra, ", ") + ")"
	}
	return cutPath(dash(clean(f.Location())), n-width(tail)) + tail
}

// writeAdvice prints the remediation texts of the findings without a
// dependency upgrade: once when all share it, else once per rule.
func writeAdvice(b *bytes.Buffer, rows []checks.Evaluated) {
	type advice struct{ rule, text string }
	var list []advice
	texts := map[string]bool{}
	seen := map[advice]bool{}
	for _, f := range rows {
		if fixText(&f.Finding) != "" || f.Remediation.Text == "" {
			continue
		}
		a := advice{clean(f.RuleID), clean(f.Remediation.Text)}
		if !seen[a] {
			seen[a] = true
			texts[a.text] = true
			list = append(list, a)
		}
	}
	switch {
	case len(texts) == 1:
		b.WriteString(wrap("  fix: "+list[0].text, "       ", lineWidth))
	case len(list) > 1:
		b.WriteString("  fixes:\n")
		for _, a := range list {
			b.WriteString(wrap("    "+a.rule+": "+a.text, "      ", lineWidth))
		}
	}
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
