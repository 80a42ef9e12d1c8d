package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// diffOptions pin down everything a user's or a repository's git
// configuration could change in `git log`'s diff output or use to run a
// program: every file diffed as text (--text: a "* -diff" or "binary" line
// in the range's own .gitattributes, or a NUL byte in a file, would
// otherwise turn its added lines into "Binary files differ", which gitleaks
// skips), no external diff or textconv driver, submodules shown as one line
// (never entered), no colour, decoration, notes, signatures (which would run
// gpg) or mailmap, the standard a/ b/ prefixes, paths from the repository
// root, and the root commit's diff even when log.showRoot is false. The diff
// filter is the gitleaks CLI's: deleted, type-changed, unmerged and broken
// pairs carry no added text. `git log` runs no hooks and no smudge filter,
// and with its output on a pipe it starts no pager.
func diffOptions() []string {
	return []string{
		"--text", "--no-ext-diff", "--no-textconv", "--submodule=short",
		"--no-color", "--no-decorate", "--no-notes", "--no-show-signature", "--no-mailmap",
		"--src-prefix=a/", "--dst-prefix=b/", "--no-relative", "--root",
		"--full-history", "--diff-filter=tuxdb",
	}
}

// logOptions returns the options gitleaks' `git log -p -U0` gets for the
// revisions revs: diffOptions plus full commit ids in the medium format with
// default dates, which gitleaks' parser expects. The revisions are full hex
// ids (resolveCommit), so splitting the options on spaces, as gitleaks
// does, cannot inject anything.
func logOptions(revs []string) string {
	opts := append(diffOptions(), "--no-abbrev-commit", "--format=medium", "--date=default")
	return strings.Join(append(opts, revs...), " ")
}

// commitsAddingText lists the commits in revs that add at least one line of
// text to a file under paths: the commits gitleaks' git source must yield
// fragments for. git reports a binary file's counts as "-".
func commitsAddingText(ctx context.Context, dir string, revs, paths []string) (map[string]bool, error) {
	args := append([]string{"log", "--numstat", "--format=commit %H"}, diffOptions()...)
	args = append(append(append(args, revs...), "--"), paths...)
	out, err := runGit(ctx, dir, args...)
	if err != nil {
		return nil, err
	}
	commits := make(map[string]bool)
	current := ""
	for line := range strings.SplitSeq(out, "\n") {
		if sha, ok := strings.CutPrefix(line, "commit "); ok {
			current = sha
			continue
		}
		added, _, ok := strings.Cut(line, "\t")
		if ok && added != "-" && added != "0" && current != "" {
			commits[current] = true
		}
	}
	return commits, nil
}

// resolveCommit turns a revision into a full commit id, refusing anything
// git could read as an option.
func resolveCommit(ctx context.Context, dir, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, " \t\r\n\x00") {
		return "", fmt.Errorf("secrets: invalid revision %q", rev)
	}
	id, err := runGit(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if ctxErr := ctx.Err(); ctxErr != nil {
		return "", fmt.Errorf("secrets: resolve %q: %w", rev, ctxErr)
	}
	if err != nil || !isHexID(id) {
		return "", fmt.Errorf("secrets: revision %q is not a commit in %s", rev, dir)
	}
	return id, nil
}

func isHexID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// runGit runs one of this package's own git commands in dir: hooks,
// fsmonitor and the pager off, pathspecs taken literally, no prompts, no LFS
// smudging. It returns stdout with surrounding white space trimmed.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	full := append([]string{
		"-c", "core.hooksPath=" + os.DevNull,
		"-c", "core.fsmonitor=false",
		"--no-pager", "--literal-pathspecs", "-C", dir,
	}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_LFS_SKIP_SMUDGE=1", "GIT_OPTIONAL_LOCKS=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", ctxErr
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", err
		}
		return "", errors.New(msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}
