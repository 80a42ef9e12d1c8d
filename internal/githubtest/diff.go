package githubtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// diffFile is one file of a pull request's diff, as GitHub shows it.
type diffFile struct {
	Path         string
	PreviousPath string // for renames and copies
	Status       string // added, removed, modified, renamed, copied, changed
	Additions    int
	Deletions    int
	Patch        string // the hunks, starting at the first "@@"
	Binary       bool
	BlobSHA      string

	lines []diffLine // one per patch line; index+1 is GitHub's "position"
}

// diffLine is one line of a patch.
type diffLine struct {
	kind byte // '@' hunk header, ' ' context, '+' added, '-' removed, '\\' marker
	old  int  // line number on the LEFT side (context and removed lines)
	new  int  // line number on the RIGHT side (context and added lines)
	hunk int
}

// lineIndex returns the patch index of line on side, or -1 when the line is
// not in the diff. RIGHT takes added and context lines, LEFT removed and
// context lines.
func (f *diffFile) lineIndex(side string, line int) int {
	for i, l := range f.lines {
		switch {
		case side == "LEFT" && (l.kind == '-' || l.kind == ' ') && l.old == line:
			return i
		case side != "LEFT" && (l.kind == '+' || l.kind == ' ') && l.new == line:
			return i
		}
	}
	return -1
}

// hunkText is GitHub's diff_hunk for a comment at patch index i: from the
// hunk's header down to the line.
func (f *diffFile) hunkText(i int) string {
	if i < 0 || i >= len(f.lines) {
		return ""
	}
	all := strings.Split(f.Patch, "\n")
	start := i
	for start > 0 && f.lines[start].kind != '@' {
		start--
	}
	return strings.Join(all[start:i+1], "\n")
}

// computeDiff returns the diff GitHub shows for a pull request: from the
// merge base of base and head to head, with rename detection.
func (s *Server) computeDiff(ctx context.Context, dir, base, head string) ([]*diffFile, error) {
	mb, err := s.gitOut(ctx, dir, nil, nil, "merge-base", base, head)
	if err != nil {
		mb = base
	}
	status, err := s.gitRaw(ctx, dir, nil, nil, "diff", "--name-status", "-z", "-M", mb, head)
	if err != nil {
		return nil, fmt.Errorf("list changed files: %w", err)
	}
	files := parseNameStatus(string(status))
	patch, err := s.gitRaw(ctx, dir, nil, nil, "-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--full-index", "-M", mb, head)
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", mb, head, err)
	}
	blocks := splitDiffBlocks(string(patch))
	if len(blocks) != len(files) {
		return nil, fmt.Errorf("diff %s..%s: %d files listed but %d patches", mb, head, len(files), len(blocks))
	}
	for i, f := range files {
		f.parseBlock(blocks[i])
	}
	return files, nil
}

// parseNameStatus reads `git diff --name-status -z`.
func parseNameStatus(out string) []*diffFile {
	fields := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	var files []*diffFile
	for i := 0; i < len(fields) && fields[i] != ""; {
		code := fields[i]
		f := &diffFile{}
		switch code[0] {
		case 'R', 'C':
			f.PreviousPath, f.Path = fields[i+1], fields[i+2]
			f.Status = map[byte]string{'R': "renamed", 'C': "copied"}[code[0]]
			i += 3
		default:
			f.Path = fields[i+1]
			f.Status = map[byte]string{'A': "added", 'D': "removed", 'M': "modified", 'T': "changed"}[code[0]]
			i += 2
		}
		files = append(files, f)
	}
	return files
}

// splitDiffBlocks cuts a full diff into one block per file.
func splitDiffBlocks(patch string) []string {
	var blocks []string
	var cur []string
	for _, line := range strings.Split(patch, "\n") {
		if strings.HasPrefix(line, "diff --git ") && cur != nil {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
		if strings.HasPrefix(line, "diff --git ") || cur != nil {
			cur = append(cur, line)
		}
	}
	if cur != nil {
		blocks = append(blocks, strings.Join(cur, "\n"))
	}
	return blocks
}

// parseBlock fills the file's patch, counts and line map from its block.
func (f *diffFile) parseBlock(block string) {
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "index ") {
			ids := strings.Fields(strings.TrimPrefix(l, "index "))[0]
			oldID, newID, _ := strings.Cut(ids, "..")
			f.BlobSHA = newID
			if strings.Trim(newID, "0") == "" {
				f.BlobSHA = oldID
			}
		}
		if strings.HasPrefix(l, "Binary files ") || strings.HasPrefix(l, "GIT binary patch") {
			f.Binary = true
		}
		if strings.HasPrefix(l, "@@") {
			start = i
			break
		}
	}
	if start < 0 {
		return
	}
	hunkLines := lines[start:]
	f.Patch = strings.Join(hunkLines, "\n")
	var oldN, newN, hunk int
	for _, l := range hunkLines {
		dl := diffLine{hunk: hunk}
		switch {
		case strings.HasPrefix(l, "@@"):
			hunk++
			oldN, newN = parseHunkHeader(l)
			dl = diffLine{kind: '@', hunk: hunk}
		case strings.HasPrefix(l, "+"):
			dl.kind, dl.new = '+', newN
			newN++
			f.Additions++
		case strings.HasPrefix(l, "-"):
			dl.kind, dl.old = '-', oldN
			oldN++
			f.Deletions++
		case strings.HasPrefix(l, "\\"):
			dl.kind = '\\'
		default:
			dl.kind, dl.old, dl.new = ' ', oldN, newN
			oldN++
			newN++
		}
		f.lines = append(f.lines, dl)
	}
}

// parseHunkHeader returns the first old and new line numbers of
// "@@ -a,b +c,d @@".
func parseHunkHeader(h string) (int, int) {
	parts := strings.Fields(h)
	if len(parts) < 3 {
		return 0, 0
	}
	num := func(s string) int {
		s = strings.TrimLeft(s, "-+")
		s, _, _ = strings.Cut(s, ",")
		n, _ := strconv.Atoi(s)
		return n
	}
	return num(parts[1]), num(parts[2])
}

// position is GitHub's legacy "position" of patch index i: the first line
// below the first hunk header is 1.
func position(i int) int { return i }

// indexOfPosition converts a legacy position to a patch index, or -1.
func (f *diffFile) indexOfPosition(pos int) int {
	if pos < 1 || pos >= len(f.lines) || f.lines[pos].kind == '\\' || f.lines[pos].kind == '@' {
		return -1
	}
	return pos
}
