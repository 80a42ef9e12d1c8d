package report

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/gitleaks/go-gitdiff/gitdiff"
)

// DiffLines says which lines of a pull request a review comment may target:
// on the RIGHT side, the added and context lines of each file's hunks, as
// GitHub requires (anything else is refused with 422). It is built from the
// unified diff between the merge base and the head, like reviewdog's filter
// package builds its view of the diff.
type DiffLines struct {
	files map[string]*diffFile
}

// diffFile is one file's commentable lines.
type diffFile struct {
	lines  map[int]diffLine // RIGHT-side line number → line
	sorted []int            // the keys of lines, ascending
}

// diffLine is one commentable line.
type diffLine struct {
	added bool
	text  string // added lines only: their content, without the newline
}

// ParseDiff reads a unified diff as `git diff` writes it (several files,
// with or without rename detection) with gitleaks' fork of
// bluekeyes/go-gitdiff, which gatehouse already builds for the secrets
// check. Deleted and binary files have no commentable lines.
//
// The parser stops quietly at the first malformed hunk; ParseDiff compares
// the files it got with the "diff --git" headers in the input and returns
// what it parsed along with an error when some are missing. Lines it did
// not see are simply not commentable, which is the safe side: their
// findings go to the review body and the summary.
func ParseDiff(diff []byte) (*DiffLines, error) {
	d := &DiffLines{files: map[string]*diffFile{}}
	files, err := gitdiff.Parse(bytes.NewReader(diff))
	if err != nil {
		// The channel is closed already; nothing to drain.
		return d, fmt.Errorf("parse diff: %w", err)
	}
	parsed := 0
	for f := range files { // drained to the end, so the parser's goroutine exits
		parsed++
		if f.IsDelete || f.IsBinary || f.NewName == "" {
			continue
		}
		df := &diffFile{lines: map[int]diffLine{}}
		for _, frag := range f.TextFragments {
			n := int(frag.NewPosition)
			for _, l := range frag.Lines {
				switch l.Op {
				case gitdiff.OpAdd:
					df.lines[n] = diffLine{added: true, text: strings.TrimSuffix(l.Line, "\n")}
					n++
				case gitdiff.OpContext:
					df.lines[n] = diffLine{}
					n++
				}
			}
		}
		if len(df.lines) == 0 {
			continue // a mode change or an empty new file: nothing to comment on
		}
		for n := range df.lines {
			df.sorted = append(df.sorted, n)
		}
		sort.Ints(df.sorted)
		d.files[f.NewName] = df
	}
	if want := countFileHeaders(diff); parsed < want {
		return d, fmt.Errorf("parse diff: read %d of %d files (a malformed hunk stops the parser)", parsed, want)
	}
	return d, nil
}

// countFileHeaders counts the "diff --git" lines of a diff.
func countFileHeaders(diff []byte) int {
	n := 0
	if bytes.HasPrefix(diff, []byte("diff --git ")) {
		n++
	}
	return n + bytes.Count(diff, []byte("\ndiff --git "))
}

// Commentable reports whether a review comment may sit on line of path
// (RIGHT side).
func (d *DiffLines) Commentable(path string, line int) bool {
	if d == nil {
		return false
	}
	f := d.files[path]
	if f == nil {
		return false
	}
	_, ok := f.lines[line]
	return ok
}

// Files returns the paths that have commentable lines, sorted.
func (d *DiffLines) Files() []string {
	if d == nil {
		return nil
	}
	out := make([]string, 0, len(d.files))
	for p := range d.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// firstIn returns the first commentable line of path within [start, end],
// or 0.
func (d *DiffLines) firstIn(path string, start, end int) int {
	if d == nil || d.files[path] == nil {
		return 0
	}
	s := d.files[path].sorted
	i := sort.SearchInts(s, start)
	if i < len(s) && s[i] <= end {
		return s[i]
	}
	return 0
}

// firstChange returns the first added line of path, else its first
// commentable line, or 0 when the file is not in the diff.
func (d *DiffLines) firstChange(path string) int {
	if d == nil || d.files[path] == nil {
		return 0
	}
	f := d.files[path]
	for _, n := range f.sorted {
		if f.lines[n].added {
			return n
		}
	}
	return f.sorted[0]
}

// added returns the content of an added line and whether it is one.
func (d *DiffLines) added(path string, line int) (string, bool) {
	if d == nil || d.files[path] == nil {
		return "", false
	}
	l, ok := d.files[path].lines[line]
	return l.text, ok && l.added
}
