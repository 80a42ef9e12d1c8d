package format

import (
	"strings"
	"unicode/utf8"
)

// width is how many columns s takes, counted in runes (report text is
// cleaned of controls first; wide characters are not told apart).
func width(s string) int { return utf8.RuneCountInString(s) }

// pad fills s with spaces to n columns.
func pad(s string, n int) string {
	if w := width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// cut shortens s to at most n runes, marking the cut with "…".
func cut(s string, n int) string {
	if width(s) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	return string([]rune(s)[:n-1]) + "…"
}

// cutPath shortens a path (or file:line) to at most n runes keeping its
// tail, the file name and line a reader looks for: "…/deep/dir/main.tf:12".
// It cuts at a slash when one is left in the tail.
func cutPath(s string, n int) string {
	if width(s) <= n {
		return s
	}
	if n < 2 {
		return cut(s, n)
	}
	r := []rune(s)
	tail := string(r[len(r)-(n-1):])
	if i := strings.IndexByte(tail, '/'); i >= 0 && i < len(tail)-1 {
		tail = tail[i:]
	}
	return "…" + tail
}

// wrap breaks text into lines of at most n columns at spaces, the lines
// after the first starting with indent; text's own leading spaces start
// the first. A word longer than a whole line (a path in an error) fills
// the line it starts on and goes on in the next, broken after a slash
// where one is near the end.
func wrap(text, indent string, n int) string {
	var b strings.Builder
	lead := text[:len(text)-len(strings.TrimLeft(text, " "))]
	line, used, empty := lead, width(lead), true
	newline := func() {
		b.WriteString(line + "\n")
		line, used, empty = indent, width(indent), true
	}
	add := func(w string) {
		if !empty {
			line, used = line+" ", used+1
		}
		line, used, empty = line+w, used+width(w), false
	}
	for _, w := range strings.Fields(text) {
		for w != "" {
			sep := 1
			if empty {
				sep = 0
			}
			room := n - used - sep
			if width(w) <= room {
				add(w)
				break
			}
			if !empty && (width(w) <= n-width(indent) || room < 8) {
				newline() // the word fits a line of its own, or little is left here
				continue
			}
			head, rest := breakWord(w, max(room, 1))
			add(head)
			newline()
			w = rest
		}
	}
	if !empty || b.Len() == 0 {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// breakWord splits w after at most n runes, after its last slash when that
// keeps at least half the room.
func breakWord(w string, n int) (string, string) {
	r := []rune(w)
	if i := strings.LastIndexByte(string(r[:n]), '/'); i >= 0 {
		if at := utf8.RuneCountInString(string(r[:n])[:i]) + 1; at >= n/2 && at < len(r) {
			n = at
		}
	}
	return string(r[:n]), string(r[n:])
}
