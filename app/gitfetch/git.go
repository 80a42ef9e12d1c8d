// Package gitfetch fetches the commits a scan needs with real git, locked
// down: no hooks, no submodules, no LFS smudging, no local-file protocol, no
// credential helpers, the installation token passed in the environment
// (never on a command line, in a URL or in a file), and symlinks checked out
// as plain files so no scanner can follow one out of the checkout.
package gitfetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Git runs git in one repository directory with a fixed, safe configuration.
type Git struct {
	Dir   string
	token string // installation token; empty for unauthenticated remotes
	// offline refuses every transport: in a partial mirror, a command that
	// touched a missing object would otherwise fetch it on its own.
	offline bool
}

// safeConfig is passed to every git invocation. Values in the repository's
// own config cannot override -c options.
var safeConfig = []string{
	"core.hooksPath=/dev/null",
	"core.symlinks=false",
	"core.fsmonitor=false",
	"core.askPass=",
	"credential.helper=",
	"protocol.file.allow=never",
	"protocol.ext.allow=never",
	"submodule.recurse=false",
	"fetch.recurseSubmodules=false",
	"filter.lfs.smudge=",
	"filter.lfs.process=",
	"filter.lfs.required=false",
	"diff.external=",
	"core.pager=cat",
	"advice.detachedHead=false",
	"init.defaultBranch=main",
	"gc.auto=0",
	"maintenance.auto=false",
}

// Run runs git with args and returns its standard output. The error
// carries git's standard error (which never holds the token: it travels in
// an http.extraHeader given through the environment).
func (g *Git) Run(ctx context.Context, args ...string) ([]byte, error) {
	return g.RunInput(ctx, nil, args...)
}

// RunInput is Run with stdin.
func (g *Git) RunInput(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	full := make([]string, 0, len(safeConfig)*2+len(args))
	for _, c := range safeConfig {
		full = append(full, "-c", c)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = g.Dir
	cmd.Env = g.env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return stdout.Bytes(), nil
}

// env is a scrubbed environment: only what git needs, plus the token as an
// Authorization header configured through GIT_CONFIG_* variables.
func (g *Git) env() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=/nonexistent", // no user config; never the checkout (a repo could ship .gitconfig)
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_LFS_SKIP_SMUDGE=1",
		"GIT_ALLOW_PROTOCOL=" + g.protocols(),
		"GIT_AUTHOR_NAME=gatehouse", "GIT_AUTHOR_EMAIL=gatehouse@localhost",
		"GIT_COMMITTER_NAME=gatehouse", "GIT_COMMITTER_EMAIL=gatehouse@localhost",
		"LC_ALL=C",
	}
	if g.token != "" {
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + g.token))
		env = append(env,
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http.extraHeader",
			"GIT_CONFIG_VALUE_0=Authorization: Basic "+basic,
		)
	}
	return env
}

// protocols is GIT_ALLOW_PROTOCOL: none at all for offline commands.
func (g *Git) protocols() string {
	if g.offline {
		return "none"
	}
	return "https:http"
}

// Checkout is a fetched repository on disk: the work tree at the head
// commit, and git's object store with the commits the scan needs.
type Checkout struct {
	Dir       string // work tree at Head
	Head      string
	Base      string // the commit to compare with; empty when there is none
	MergeBase string // merge base of Base and Head (pull requests); empty otherwise
	git       *Git
}

// FetchSpec says what to fetch.
type FetchSpec struct {
	CloneURL string
	Token    string
	// Refs are fetched (e.g. "refs/pull/7/head", "refs/heads/main"); SHAs
	// are fetched by id when not reachable from Refs.
	Refs []string
	Head string // commit to check out
	Base string // optional commit to compare with
}

// Fetch initialises dir (which must not exist or be empty), fetches spec and
// checks out the head commit. Nothing from the repository runs.
func Fetch(ctx context.Context, dir string, spec FetchSpec) (*Checkout, error) {
	// 0755: the sandboxed scanner (an unprivileged user) reads it.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create checkout dir: %w", err)
	}
	g := &Git{Dir: dir, token: spec.Token}
	if _, err := g.Run(ctx, "init", "-q"); err != nil {
		return nil, err
	}
	var refspecs []string
	for i, r := range spec.Refs {
		refspecs = append(refspecs, fmt.Sprintf("+%s:refs/gatehouse/%d", r, i))
	}
	if len(refspecs) > 0 {
		if err := fetch(ctx, g, spec.CloneURL, refspecs); err != nil {
			return nil, err
		}
	}
	for _, sha := range []string{spec.Head, spec.Base} {
		if sha == "" || hasCommit(ctx, g, sha) {
			continue
		}
		if err := fetch(ctx, g, spec.CloneURL, []string{sha}); err != nil {
			return nil, fmt.Errorf("commit %s: %w", sha, err)
		}
	}
	if _, err := g.Run(ctx, "checkout", "-q", "--detach", "--force", spec.Head, "--"); err != nil {
		return nil, err
	}
	c := &Checkout{Dir: dir, Head: spec.Head, Base: spec.Base, git: g}
	if spec.Base != "" {
		out, err := g.Run(ctx, "merge-base", spec.Base, spec.Head)
		if err == nil {
			c.MergeBase = strings.TrimSpace(string(out))
		}
	}
	return c, nil
}

func fetch(ctx context.Context, g *Git, url string, refspecs []string) error {
	args := append([]string{"fetch", "-q", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", url}, refspecs...)
	_, err := g.Run(ctx, args...)
	return err
}

func hasCommit(ctx context.Context, g *Git, sha string) bool {
	_, err := g.Run(ctx, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// Worktree checks out rev into a new directory next to the checkout (for
// scanning the base tree) and returns its path.
func (c *Checkout) Worktree(ctx context.Context, name, rev string) (string, error) {
	dir := filepath.Join(filepath.Dir(c.Dir), name)
	if _, err := c.git.Run(ctx, "worktree", "add", "-q", "--detach", "--force", dir, rev); err != nil {
		return "", err
	}
	return dir, nil
}

// Diff returns the unified diff between from and to as GitHub shows it on a
// pull request: three lines of context (review comments may target them)
// and renames detected (GitHub rejects comments on a renamed file's
// unchanged lines, which a rename-less diff would show as added).
func (c *Checkout) Diff(ctx context.Context, from, to string) ([]byte, error) {
	return c.git.Run(ctx, "diff", "-M", "--no-color", "--no-ext-diff", "--no-textconv", "-U3", from, to, "--")
}

// MergeBaseWith returns the merge base of the head and rev.
func (c *Checkout) MergeBaseWith(ctx context.Context, rev string) (string, error) {
	out, err := c.git.Run(ctx, "merge-base", rev, c.Head)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// ResolveRef returns the commit a remote ref points to (git ls-remote).
func ResolveRef(ctx context.Context, cloneURL, token, ref string) (string, error) {
	dir, err := os.MkdirTemp("", "gatehouse-ls-remote-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	g := &Git{Dir: dir, token: token}
	out, err := g.Run(ctx, "ls-remote", "--", cloneURL, ref)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, name, ok := strings.Cut(line, "\t")
		if ok && name == ref {
			return sha, nil
		}
	}
	return "", fmt.Errorf("%s not found", ref)
}
