package e2e

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/bounded"
	"github.com/gatehouse/gatehouse/checks/format"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// outcome is what a verdict says, in a form both paths can be compared in:
// per check its conclusion, its findings (rule, file, new or existing,
// blocking) and its suppressed findings (rule, file).
type outcome map[string][]string

func (o outcome) add(check, conclusion string, findings, suppressed []string) {
	slices.Sort(findings)
	slices.Sort(suppressed)
	o[check] = append(append([]string{"conclusion " + conclusion}, findings...), suppressed...)
}

// serverOutcome reads the verdict the server recorded for a commit.
func serverOutcome(t *testing.T, h *harness, sha string) outcome {
	t.Helper()
	code, body := h.apiGet("/api/v1/verdicts?repo=octo/demo&sha="+sha, apiToken)
	var list struct {
		Verdicts []struct {
			ID string `json:"id"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Verdicts) == 0 {
		t.Fatalf("verdicts of %s: %d %v %s", sha, code, err, body)
	}
	code, body = h.apiGet("/api/v1/verdicts/"+list.Verdicts[0].ID, apiToken)
	var env struct {
		Record evidence.Record `json:"record"`
	}
	if err := json.Unmarshal(body, &env); code != http.StatusOK || err != nil {
		t.Fatalf("verdict: %d %v %s", code, err, body)
	}
	out := outcome{}
	for _, c := range env.Record.Checks {
		var fs, ss []string
		for _, f := range c.Findings {
			fs = append(fs, fmt.Sprintf("finding %s %s %s blocking=%v", f.RuleID, f.File, f.Status, f.Blocking))
		}
		for _, e := range c.Exceptions {
			ss = append(ss, fmt.Sprintf("suppressed %s %s", e.Finding.RuleID, e.Finding.File))
		}
		for _, e := range c.Pending {
			ss = append(ss, fmt.Sprintf("pending %s %s", e.Finding.RuleID, e.Finding.File))
		}
		out.add(c.Name, c.Conclusion, fs, ss)
	}
	return out
}

// cliOutcome runs `gatehouse scan --base BASE --format json` on a clone
// of the repository at the pull request's head.
func cliOutcome(t *testing.T, repo *githubtest.Repo, pr githubtest.PullRequest, env []string) outcome {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	for _, args := range [][]string{{"clone", "-q", repo.Dir(), dir}, {"-C", dir, "checkout", "-q", pr.HeadSHA}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(binary(t), "scan", "--base", pr.BaseSHA, "--format", "json", dir)
	cmd.Env = append(os.Environ(), append([]string{"GATEHOUSE_DATA_DIR=" + dataDir, "GATEHOUSE_OFFLINE=true"}, env...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("gatehouse scan: %v\n%s", err, stderr.String())
	}
	var rep format.JSONDocument
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("gatehouse scan output: %v\n%s\n%s", err, b, stderr.String())
	}
	out := outcome{}
	for _, c := range rep.Checks {
		var fs, ss []string
		for _, f := range c.Findings {
			fs = append(fs, fmt.Sprintf("finding %s %s %s blocking=%v", f.RuleID, f.File, f.Status, f.Blocking))
		}
		for _, s := range c.Suppressed {
			ss = append(ss, fmt.Sprintf("suppressed %s %s", s.Finding.RuleID, s.Finding.File))
		}
		for _, s := range c.PendingApproval {
			ss = append(ss, fmt.Sprintf("pending %s %s", s.Finding.RuleID, s.Finding.File))
		}
		out.add(c.Check, string(c.Conclusion), fs, ss)
	}
	return out
}

// withLimits runs the server's checks in-process through checks/bounded
// (what the sandbox child runs) with engines loaded under these limits.
func withLimits(t *testing.T, lim checks.Limits) option {
	t.Helper()
	set := sharedEngines(t)
	if lim.MaxFileSize != 0 {
		var err error
		if set, err = registry.New(registry.Options{DataDir: dataDir, MaxFileSize: lim.MaxFileSize, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = set.Close() })
	}
	return func(c *server.Config) { c.Runner = &bounded.Runner{Checks: set.Checks, Limits: lim} }
}

// One verdict pipeline: the same pull request, policy and limits give the
// same verdict through the server (webhook, mirror, stored policy, sandbox
// runner's limits, finding cache) and through `gatehouse scan --base` in a
// clone, finding for finding.
func TestServerAndCLIAgree(t *testing.T) {
	lock, err := os.ReadFile(filepath.Join("..", "testdata", "repos", "deps", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	rego := teamLabelCheck(t)
	for _, tc := range []struct {
		name string
		base map[string]string // committed to main before the pull request
		head map[string]string // the pull request's change
		// warm, when set, is scanned first in another repository of the
		// same server, so its units are in the finding cache.
		warm    map[string]string
		maxSize int64
		want    map[string]string // check → the conclusion both must reach
		has     []string          // lines the outcome must hold ("check: line")
	}{
		{
			name: "base .trivyignore.yml suppresses a CVE, with the lockfile cached from another repository",
			base: map[string]string{".trivyignore.yml": "vulnerabilities:\n  - id: CVE-2019-10744\n    statement: not reachable\n"},
			head: map[string]string{"package-lock.json": string(lock)},
			warm: map[string]string{"package-lock.json": string(lock)},
			want: map[string]string{checks.Dependencies: "failure"}, // the other CVEs still block
			has:  []string{"dependencies: suppressed CVE-2019-10744 package-lock.json"},
		},
		{
			name:    "on_limit neutral with a file over GATEHOUSE_MAX_FILE_SIZE",
			base:    map[string]string{".github/gatehouse.yml": "version: 1\non_limit: neutral\n"},
			head:    map[string]string{"notes/big.txt": strings.Repeat("lorem ipsum ", 600), "k8s/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"},
			maxSize: 4000,
			want:    map[string]string{checks.Secrets: "neutral"},
		},
		{
			name: "a custom check from the base blocks an unlabelled deployment",
			base: map[string]string{".github/gatehouse/checks/team_label.rego": rego},
			head: map[string]string{"k8s/web.yaml": deployment("web", "")},
			want: map[string]string{checks.IaC: "failure"},
			has:  []string{"iac: finding ORG-K8S-001 k8s/web.yaml new blocking=true"},
		},
		{
			name: "a suppression the change adds waits for approval on both paths",
			head: map[string]string{"config/app.env": "GITHUB_TOKEN=" + plantedToken + "\n", ".gitleaksignore": "config/app.env:github-pat:1\n"},
			want: map[string]string{checks.Secrets: "failure"},
			has:  []string{"secrets: finding github-pat config/app.env new blocking=true", "secrets: pending github-pat config/app.env"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := githubtest.New(t)
			repo := newRepo(t, fake)
			if tc.warm != nil {
				other := fake.AddRepo("octo", "other")
				other.Commit("main", "init", map[string]string{"README.md": "other\n"})
				other.Commit("feature", "warm", tc.warm)
				fake.AddInstallationRepos(installation, "octo/other")
			}
			if tc.base != nil {
				repo.Commit("main", "settings", tc.base)
			}
			repo.Commit("feature", "change", tc.head)
			pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
			lim := checks.Limits{MaxFileSize: tc.maxSize}
			h := start(t, fake, withEvidence(t), withLimits(t, lim))
			if tc.warm != nil {
				other := fake.Repo("octo/other")
				opr := fake.AddPullRequest("octo/other", githubtest.PullRequest{HeadRef: "feature"})
				scanAndWait(t, h, other, opr, "opened")
			}
			scanAndWait(t, h, repo, pr, "opened")
			h.waitIdle()
			srv := serverOutcome(t, h, pr.HeadSHA)
			var env []string
			if tc.maxSize > 0 {
				env = append(env, fmt.Sprintf("GATEHOUSE_MAX_FILE_SIZE=%d", tc.maxSize))
			}
			cli := cliOutcome(t, repo, pr, env)
			for _, c := range registry.Names {
				if !slices.Equal(srv[c], cli[c]) {
					t.Errorf("%s differs:\nserver: %q\ncli:    %q", c, srv[c], cli[c])
				}
			}
			for _, line := range tc.has {
				c, l, _ := strings.Cut(line, ": ")
				if !slices.Contains(srv[c], l) {
					t.Errorf("%s lacks %q: %q", c, l, srv[c])
				}
			}
			for c, want := range tc.want {
				if got := srv[c][0]; got != "conclusion "+want {
					t.Errorf("%s: %s, want %s (server %q)", c, got, want, srv[c])
				}
			}
		})
	}
}
