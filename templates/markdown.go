package templates

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Markdown escaping. Everything gatehouse writes to GitHub as Markdown (check
// run summaries and texts, review comments, the summary comment) carries
// strings a repository controls: file paths, package names, rule ids,
// titles and messages of custom checks, parser errors quoting the file,
// reasons from a policy file. A file may be named
// "x|@acme-security [claim your reward](https:\\evil.example\p)|.env": put
// in a table as it is, it ends the cell, notifies a team and shows a link
// (browsers read the backslashes as slashes). So every such string goes
// through exactly one of these, chosen by where it lands:
//
//	where                                                   function
//	running text: paragraph, list item, quote, heading,     mdText   (template: text)
//	  bold, link text
//	a table cell                                            mdCell   (template: cell)
//	a code span in running text or a heading                mdCode   (template: code)
//	a code span in a table cell                             mdCellCode (template: cellCode)
//	a link's target                                         mdLink   (template: link)
//
// In running text nothing a string holds can start Markdown or HTML, a
// mention, an issue reference or an autolink; in a code span nothing is
// interpreted but a backtick and, in a table, a pipe, which are handled;
// in a table cell a pipe never ends the cell. Control characters and the
// Unicode direction overrides (which can make one file name look like
// another) are replaced everywhere.

// Caps on the characters of one untrusted string in running text and in a
// table cell.
const (
	maxProse = 1500
	maxCell  = 200
)

// mdEscaped are the ASCII punctuation characters that start or end Markdown
// or HTML inline: they are backslash-escaped in running text. "#" ends a
// heading when trailing; "$" starts math on GitHub; "&" an entity.
const mdEscaped = "\\`*_[]<>|~&!#$"

// zwsp is a zero-width space: invisible, but no mention, reference or
// autolink is recognised across it.
const zwsp = "\u200b"

// mdText renders untrusted text in running Markdown: one line (whitespace
// runs become one space), at most maxProse characters, every Markdown and
// HTML character escaped, mentions ("@team"), issue references ("#12",
// "owner/repo#12") and autolinks ("https://…", "www.…", "a@b.c") broken.
func mdText(s string) string {
	return escapeText(cutRunes(flatten(s), maxProse))
}

// mdCell renders untrusted text in a table cell: mdText, which escapes the
// pipe, cut to maxCell characters.
func mdCell(s string) string {
	return escapeText(cutRunes(flatten(s), maxCell))
}

// mdCode renders s as a code span outside a table: its content shows
// exactly (GitHub interprets nothing in a code span, mentions and links
// included), on one line. The fence is one backtick longer than the
// longest run of backticks in s, so s cannot close it.
func mdCode(s string) string {
	return codeSpan(oneLine(s))
}

// mdCellCode renders s as a code span in a table cell. GitHub splits a
// table row at every pipe not preceded by a backslash, code spans
// included, and drops that backslash again inside the cell: "\|" shows
// "|" and keeps the cell whole.
func mdCellCode(s string) string {
	return strings.ReplaceAll(codeSpan(oneLine(s)), "|", `\|`)
}

// mdLink returns u when it is safe as a link's target: http(s) only,
// nothing that ends the target or starts Markdown; github.com links go
// through redirect.github.com, so a link to an issue puts no
// back-reference on it (Dependabot does the same). Anything else is "".
func mdLink(u string) string {
	u = strings.TrimSpace(u)
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	if strings.ContainsAny(u, " <>()[]`|\\\"'\n\r\t") || strings.IndexFunc(u, unsafeRune) >= 0 {
		return ""
	}
	return strings.Replace(u, "https://github.com/", "https://redirect.github.com/", 1)
}

// flatten makes s one line of single spaces, with unsafe characters
// replaced.
func flatten(s string) string {
	return strings.Join(strings.Fields(oneLine(s)), " ")
}

// oneLine replaces line breaks and other control characters with a space
// and the direction overrides with U+FFFD.
func oneLine(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case isBidiControl(r):
			return utf8.RuneError
		case unsafeRune(r):
			return ' '
		}
		return r
	}, s)
}

// unsafeRune is a control character, a line or paragraph separator or a
// direction control.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || isBidiControl(r)
}

// isBidiControl is an explicit direction mark, embedding, override or
// isolate (the "Trojan Source" characters).
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// escapeText escapes one line of text for running Markdown (see mdText).
func escapeText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(mdEscaped, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
			// "#12" and "owner/repo#12" link issues, escaped or not.
			if c == '#' && i+1 < len(s) && isDigit(s[i+1]) {
				b.WriteString(zwsp)
			}
		case c == '@' && i+1 < len(s) && isNameByte(s[i+1]):
			// "@team", and "a@b.c", which GitHub links as an address.
			b.WriteString("@" + zwsp)
		case c == ':' && strings.HasPrefix(s[i:], "://"):
			b.WriteString(":" + zwsp)
		case (c == 'w' || c == 'W') && len(s)-i >= 4 && strings.EqualFold(s[i:i+4], "www.") && (i == 0 || !isNameByte(s[i-1])):
			b.WriteString(s[i:i+3] + zwsp)
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// codeSpan wraps one line in backticks that its content cannot close. A
// space pads content that starts or ends with a backtick (GitHub strips
// one such space on each side); an empty string stays empty.
func codeSpan(s string) string {
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "") {
		s = " " + s + " "
	}
	return fence + s + fence
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// cutRunes cuts s to at most n characters, marking the cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
