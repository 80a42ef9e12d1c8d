package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

// TestScanGitHostileConfig gives the repository a configuration that would
// run a program (hooks, fsmonitor, pager, external diff, textconv, clean and
// smudge filters, gpg for signatures) or change git log's output (one-line
// format, short ids, no prefixes, colour, no root diff) and checks that the
// scan runs none of them and finds what it finds in a clean repository.
func TestScanGitHostileConfig(t *testing.T) {
	clean := buildHistory(t)
	want := run(t, newScanner(t, Options{}), checks.Target{Dir: clean.dir, HeadRev: "HEAD"})

	h := buildHistory(t)
	if h.c4 != clean.c4 {
		t.Fatalf("history is not reproducible: %s vs %s", h.c4, clean.c4)
	}
	markers := t.TempDir()
	tools := t.TempDir()
	script := func(name string) string {
		p := filepath.Join(tools, name)
		body := fmt.Sprintf("#!/bin/sh\ntouch %q\nif [ -n \"$1\" ] && [ -f \"$1\" ]; then cat \"$1\"; else cat; fi\n", filepath.Join(markers, name))
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hooks := filepath.Join(tools, "hooks")
	if err := os.Mkdir(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, hook := range []string{"post-checkout", "post-merge", "pre-auto-gc", "reference-transaction", "post-index-change"} {
		body := fmt.Sprintf("#!/bin/sh\ntouch %q\n", filepath.Join(markers, "hook-"+hook))
		if err := os.WriteFile(filepath.Join(hooks, hook), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range [][2]string{
		{"core.hooksPath", hooks},
		{"core.fsmonitor", script("fsmonitor")},
		{"core.pager", script("pager")},
		{"pager.log", script("pager-log")},
		{"diff.external", script("external-diff")},
		{"diff.evil.textconv", script("textconv")},
		{"filter.evil.clean", script("clean-filter")},
		{"filter.evil.smudge", script("smudge-filter")},
		{"filter.evil.required", "true"},
		{"gpg.program", script("gpg")},
		{"log.showSignature", "true"},
		{"log.abbrevCommit", "true"},
		{"log.decorate", "full"},
		{"log.showRoot", "false"},
		{"format.pretty", "oneline"},
		{"diff.noprefix", "true"},
		{"diff.mnemonicPrefix", "true"},
		{"diff.relative", "true"},
		{"color.ui", "always"},
		{"submodule.recurse", "true"},
	} {
		gittest.Git(t, h.dir, "config", kv[0], kv[1])
	}
	attrs := "* diff=evil filter=evil\n"
	gittest.WriteFiles(t, h.dir, map[string]string{".gitattributes": attrs, ".git/info/attributes": attrs})

	res := run(t, newScanner(t, Options{}), checks.Target{Dir: h.dir, HeadRev: "HEAD"})
	if !slices.Equal(got(res.Findings), got(want.Findings)) || !slices.Equal(gotSuppressed(res.Suppressed), gotSuppressed(want.Suppressed)) {
		t.Errorf("with a hostile config:\n got  %v %v\n want %v %v", got(res.Findings), gotSuppressed(res.Suppressed), got(want.Findings), gotSuppressed(want.Suppressed))
	}
	ran, err := os.ReadDir(markers)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ran {
		t.Errorf("the scan ran %s", m.Name())
	}
}

// countdownCtx is cancelled by its n-th Done call: a way to cancel a scan at
// many different points without timing.
type countdownCtx struct {
	context.Context
	n      atomic.Int64
	cancel context.CancelFunc
}

func newCountdownCtx(n int64) *countdownCtx {
	ctx, cancel := context.WithCancel(context.Background())
	c := &countdownCtx{Context: ctx, cancel: cancel}
	c.n.Store(n)
	return c
}

func (c *countdownCtx) Done() <-chan struct{} {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return c.Context.Done()
}

// TestScanCancelledAnywhere cancels scans at many points: each must either
// finish with the complete result or fail with the context's error, never
// hang, leave git running or return a partial result as complete. The early
// points come from a countdown of Done calls; later ones from deadlines
// (only where the scan is cut varies with the machine's speed, not what is
// asserted).
func TestScanCancelledAnywhere(t *testing.T) {
	h := buildHistory(t)
	s := newScanner(t, Options{Concurrency: 2})
	targets := map[string]checks.Target{
		"dir": {Dir: fixtureDir},
		"git": {Dir: h.dir, HeadRev: "HEAD"},
	}
	for name, target := range targets {
		want := run(t, s, target)
		check := func(point string, res *checks.Result, err error) bool {
			switch {
			case err == nil:
				if !slices.Equal(got(res.Findings), got(want.Findings)) {
					t.Errorf("%s, %s: partial result %v returned as complete", name, point, got(res.Findings))
				}
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				return true
			default:
				t.Errorf("%s, %s: %v, want the context's error", name, point, err)
			}
			return false
		}
		cancelled := 0
		for n := int64(1); n <= 12; n++ {
			ctx := newCountdownCtx(n)
			res, err := s.Run(ctx, target)
			ctx.cancel()
			if check(fmt.Sprintf("cancelled at Done call %d", n), res, err) {
				cancelled++
			}
		}
		if cancelled == 0 {
			t.Errorf("%s: no countdown cancelled the scan", name)
		}
		for d := time.Duration(0); d <= 30*time.Millisecond; d += 250 * time.Microsecond {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			res, err := s.Run(ctx, target)
			cancel()
			check(fmt.Sprintf("deadline %v", d), res, err)
		}
	}
}

// TestScanGitCorruptRepo makes git log fail half way (a blob is missing):
// the scan must fail, not hang and not pass.
func TestScanGitCorruptRepo(t *testing.T) {
	h := buildHistory(t)
	blob := gittest.Git(t, h.dir, "rev-parse", h.c2+":"+h.stagingFile)
	if err := os.Remove(filepath.Join(h.dir, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatalf("remove blob %s: %v", blob, err)
	}
	_, err := newScanner(t, Options{}).Run(context.Background(), checks.Target{Dir: h.dir, HeadRev: "HEAD"})
	if err == nil || !strings.Contains(err.Error(), "git log") {
		t.Errorf("err = %v, want a git log failure", err)
	}
}

// TestScanGitAttributesCannotHideSecrets: a change that adds "* -diff" to
// .gitattributes (git would print "Binary files differ" for every file) or
// puts a NUL byte in a file must not hide the secret it adds from the
// range scan that `gatehouse scan --base` and pull requests use.
func TestScanGitAttributesCannotHideSecrets(t *testing.T) {
	release, err := os.ReadFile(filepath.Join(fixtureDir, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := gittest.New(t)
	base := gittest.Commit(t, dir, "Start", map[string]string{"README.md": "hello\n"})
	head := gittest.Commit(t, dir, "Hide a token", map[string]string{
		".gitattributes": "* -diff\n*.sh binary\n",
		"leak.sh":        string(release),
		"nul.sh":         "\x00\n" + string(release),
	})
	res := run(t, newScanner(t, Options{}), checks.Target{Dir: dir, BaseRev: base, HeadRev: head})
	assertWants(t, "findings", got(res.Findings), []want{
		{"github-pat", "leak.sh", 4, 4, head},
		{"github-pat", "nul.sh", 5, 5, head},
	})
	// The commit's diff is what git shows without --text: the attributes
	// would have hidden both files.
	if out := gittest.Git(t, dir, "show", "--format=", head); !strings.Contains(out, "Binary files") {
		t.Fatalf("the control failed: git shows the files as text without --text:\n%s", out)
	}
}
