package secrets

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/fatih/semgroup"
	"github.com/zricethezav/gitleaks/v8/cmd/scm"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/gatehouse/gatehouse/checks"
)

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
		}
		c.sawCommit(frag.CommitSHA)
		if int64(len(frag.Raw)) > s.maxBytes {
			if looksBinary(frag.Raw) {
				// As before --text: a large binary file (an image, an
				// archive) is counted as binary, not as a limit hit.
				c.countBinary()
				return nil
			}
			c.skip("size:"+frag.CommitSHA+":"+frag.FilePath, frag.FilePath, fmt.Sprintf(
				"lines added in commit %.12s larger than %s (%d bytes)", frag.CommitSHA, s.limitText(), len(frag.Raw)))
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
	// gitleaks' diff parser stops at the first patch it cannot parse and
	// says nothing: check that every commit adding text was seen.
	want, err := commitsAddingText(ctx, t.Dir, revs, paths)
	if err != nil {
		return fmt.Errorf("secrets: list the commits of %s: %w", t.Dir, err)
	}
	if missed := c.unseen(want); len(missed) > 0 {
		return fmt.Errorf("secrets: gitleaks did not read %d of the %d commits that add text in %s (first: %.12s); the history was not fully scanned",
			len(missed), len(want), t.Dir, missed[0])
	}
	c.note("git mode: the lines added by %d commits were scanned, binary files and files .gitattributes marks -diff included; git log -p shows no diff for merge commits, so lines a merge itself introduces (conflict resolutions) were not scanned", c.commits)
	return nil
}

// looksBinary applies git's own test (a NUL byte in the first 8000 bytes)
// to the lines a commit added to a file.
func looksBinary(raw string) bool {
	return strings.IndexByte(raw[:min(len(raw), 8000)], 0) >= 0
}
