package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/fatih/semgroup"
	"github.com/zricethezav/gitleaks/v8/cmd/scm"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/gatehouse/gatehouse/checks"
)

// logOptions returns the options for the revisions revs, passed to the `git log -p -U0` that gitleaks runs. They pin
// down everything a user's or a repository's git configuration could change
// in that output or use to run a program: no external diff or textconv
// driver, submodules shown as one line (never entered), no colour,
// decoration, notes, signatures (which would run gpg) or mailmap, full
// commit ids, the medium format and default dates gitleaks' parser expects,
// the standard a/ b/ prefixes, paths from the repository root, and the root
// commit's diff even when log.showRoot is false. The diff
// filter is the gitleaks CLI's: deleted, type-changed, unmerged and broken
// pairs carry no added text. `git log` runs no hooks and no smudge filter,
// and with its output on a pipe it starts no pager.
//
// The revisions are full hex ids (resolveCommit), so splitting the options
// on spaces, as gitleaks does, cannot inject anything.
func logOptions(revs []string) string {
	opts := []string{
		"--no-ext-diff", "--no-textconv", "--submodule=short",
		"--no-color", "--no-decorate", "--no-notes", "--no-show-signature", "--no-mailmap",
		"--no-abbrev-commit", "--format=medium", "--date=default",
		"--src-prefix=a/", "--dst-prefix=b/", "--no-relative", "--root",
		"--full-history", "--diff-filter=tuxdb",
	}
	return strings.Join(append(opts, revs...), " ")
}

// scanGit scans every line added by the commits in t.BaseRev..t.HeadRev with
// gitleaks' git source (sources.Git over sources.NewGitLogCmdContext).
func (s *Scanner) scanGit(ctx context.Context, t checks.Target, paths []string, c *collector) error {
	prefix, err := runGit(ctx, t.Dir, "rev-parse", "--show-prefix")
	if err != nil {
		return fmt.Errorf("secrets: %s is not a git work tree: %w", t.Dir, err)
	}
	if prefix != "" {
		return fmt.Errorf("secrets: %s is not the top of its git work tree (it is %s inside it)", t.Dir, prefix)
	}
	head, err := resolveCommit(ctx, t.Dir, t.HeadRev)
	if err != nil {
		return err
	}
	revs := []string{head}
	if t.BaseRev != "" {
		base, err := resolveCommit(ctx, t.Dir, t.BaseRev)
		if err != nil {
			return err
		}
		revs = append(revs, "^"+base)
	}
	count, err := runGit(ctx, t.Dir, append([]string{"rev-list", "--count"}, revs...)...)
	if err != nil {
		return fmt.Errorf("secrets: count commits %s: %w", strings.Join(revs, " "), err)
	}
	if c.commits, err = strconv.Atoi(count); err != nil {
		return fmt.Errorf("secrets: count commits: unexpected output %q", count)
	}
	if c.commits == 0 {
		return nil
	}

	// gitleaks' diff parser spins forever on a pipe closed under it, and
	// sources.Git closes the pipe (through Cmd.Wait) as soon as its loop
	// returns early: on cancellation, or on the first line git writes to
	// stderr. So its loop and its goroutines run on a context that is never
	// cancelled, and stopping means killing git (cancelling gitCtx): git's
	// output then ends, the parser reaches end of file, and the loop
	// finishes on its own. Fragments yielded after that are skipped.
	gitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runCtx := context.WithoutCancel(ctx)
	cmd, err := sources.NewGitLogCmdContext(gitCtx, t.Dir, logOptions(revs))
	if err != nil {
		return fmt.Errorf("secrets: start git log in %s: %w", t.Dir, err)
	}
	sema := semgroup.NewGroup(runCtx, int64(s.conc))
	src := &sources.Git{
		Cmd:    cmd,
		Config: &s.rules.cfg,
		// A nil Remote makes gitleaks dereference nil when it builds links.
		Remote: &sources.RemoteInfo{Platform: scm.NoPlatform},
		Sema:   sema,
	}
	var (
		failOnce sync.Once
		failErr  error
	)
	fail := func(err error) {
		failOnce.Do(func() { failErr = err })
		cancel()
	}
	err = src.Fragments(runCtx, func(frag sources.Fragment, err error) error {
		switch {
		case err != nil && frag.FilePath == "" && frag.CommitSHA == "":
			// git wrote to stderr (gitleaks logs the line); git has closed
			// stderr, so it has exited or is about to. sources.Git returns
			// right after this call: let the parser read to the end first.
			fail(fmt.Errorf("secrets: git log in %s failed (see the log): %w", t.Dir, err))
			for range cmd.DiffFilesCh() {
			}
			return nil
		case err != nil:
			fail(fmt.Errorf("secrets: read %s in commit %.12s: %w", frag.FilePath, frag.CommitSHA, err))
			return nil
		case gitCtx.Err() != nil, !inPaths(paths, frag.FilePath):
			return nil
		case int64(len(frag.Raw)) > s.maxBytes:
			c.skip("size:"+frag.CommitSHA+":"+frag.FilePath, frag.FilePath, fmt.Sprintf(
				"lines added in commit %.12s larger than %d MB (%d bytes)", frag.CommitSHA, s.maxMB, len(frag.Raw)))
			return nil
		}
		c.detect(gitCtx, frag.FilePath, frag)
		return nil
	})
	semErr := sema.Wait()
	cancel()
	switch {
	case failErr != nil:
		return failErr
	case ctx.Err() != nil:
		return fmt.Errorf("secrets: scan %s: %w", t.Dir, ctx.Err())
	case err != nil:
		return fmt.Errorf("secrets: git log in %s: %w", t.Dir, err)
	case semErr != nil:
		return fmt.Errorf("secrets: scan history of %s: %w", t.Dir, semErr)
	}
	c.note("git mode: the lines added by %d commits were scanned; git log -p shows no diff for merge commits, so lines a merge itself introduces (conflict resolutions) and binary files were not scanned", c.commits)
	return nil
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

// runGit runs one of this package's own git commands in dir: hooks, fsmonitor
// and the pager off, no prompts, no LFS smudging. It returns trimmed stdout.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	full := append([]string{
		"-c", "core.hooksPath=" + os.DevNull,
		"-c", "core.fsmonitor=false",
		"--no-pager", "-C", dir,
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
