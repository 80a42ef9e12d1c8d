// Package gitfetch fetches the commits a scan needs with real git into a
// per-repository partial mirror (mirror.go) and writes out the files a scan
// reads (tree.go), locked down: no hooks, no submodules, no LFS smudging, no local-file protocol, no
// credential helpers, the installation token passed in the environment
// (never on a command line, in a URL or in a file), and symlinks checked out
// as plain files so no scanner can follow one out of the checkout.
package gitfetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Git runs git in one repository directory with a fixed, safe configuration.
type Git struct {
	Dir   string
	token string // installation token; empty for unauthenticated remotes
	// offline refuses every transport: in a partial mirror, a command that
	// touched a missing object would otherwise fetch it on its own.
	offline bool
	// log, when set, gets a debug line per command with its duration.
	log *slog.Logger
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
	start := time.Now()
	err := cmd.Run()
	if g.log != nil {
		g.log.Debug("git", slog.String("command", args[0]), slog.Duration("took", time.Since(start)), slog.Int("output", stdout.Len()))
	}
	if err != nil {
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
