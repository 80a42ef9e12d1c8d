package report

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// rawSecret is the secret the fixture commits; no request may carry it.
const rawSecret = "AKIAQYLPMN5HHHFPZAM2"

const installation = 1

// numbered returns n lines "line 1" … "line n".
func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// mainTF is a Terraform file; withACL makes line 5 a public ACL.
func mainTF(withACL bool) string {
	acl := `  acl    = "private"`
	if withACL {
		acl = `  acl    = "public-read"`
	}
	return strings.Join([]string{
		`terraform {}`, ``, `# storage`, `resource "aws_s3_bucket" "logs" {`, acl, `  bucket = "logs"`, `}`,
	}, "\n") + "\n" + numbered(20)
}

// env is a fake GitHub with acme/widgets, a feature branch that adds a
// secret (config.env:2), makes infra/main.tf:5 public and adds a lockfile,
// and pull request #1 from it.
type env struct {
	fake *githubtest.Server
	repo *githubtest.Repo
	gh   *github.Client
	pr   PullRequest
	ctx  context.Context
}

func newEnv(t *testing.T, opts ...githubtest.Option) *env {
	t.Helper()
	fake := githubtest.New(t, opts...)
	repo := fake.AddRepo("acme", "widgets")
	repo.Commit("main", "base", map[string]string{
		"README.md": "hello\n", "app.txt": numbered(40), "infra/main.tf": mainTF(false),
	})
	repo.Commit("feature", "change", map[string]string{
		"config.env":        "# settings\naws_key=" + rawSecret + "\nregion=eu-west-1\n",
		"infra/main.tf":     mainTF(true),
		"package-lock.json": "{\n  \"lockfileVersion\": 3\n}\n",
	})
	fake.AddInstallation(installation, "acme", "widgets")
	pr := fake.AddPullRequest("acme/widgets", githubtest.PullRequest{HeadRef: "feature"})
	base := fake.URL() + "/"
	gh, err := github.NewClient(github.WithAuthToken(fake.IssueToken(installation)), github.WithURLs(&base, &base))
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return &env{
		fake: fake, repo: repo, gh: gh, ctx: context.Background(),
		pr: PullRequest{Repo: Repo{Owner: "acme", Name: "widgets"}, Number: pr.Number, HeadSHA: pr.HeadSHA},
	}
}

// reviewer is the Reviewer under test, posting as the fake's app.
func (e *env) reviewer() *Reviewer {
	return &Reviewer{GH: e.gh, BotLogin: e.fake.BotLogin(), Logger: slog.New(slog.DiscardHandler)}
}

// push commits to the feature branch and moves the pull request.
func (e *env) push(t *testing.T, files map[string]string, remove ...string) {
	t.Helper()
	e.repo.Commit("feature", "push", files, remove...)
	e.pr.HeadSHA = e.fake.SyncPullRequest("acme/widgets", e.pr.Number).HeadSHA
}

// rename moves a file on the feature branch and gives it new content,
// through a clone pushed back to the fake's bare repository (Repo.Commit
// only adds and changes files).
func (e *env) rename(t *testing.T, from, to, content string) {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("clone", "--quiet", "--branch", "feature", e.repo.Dir(), ".")
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755); err != nil {
		t.Fatal(err)
	}
	run("mv", from, to)
	if err := os.WriteFile(filepath.Join(dir, to), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run("commit", "--quiet", "-am", "rename")
	run("push", "--quiet", "origin", "feature")
	e.pr.HeadSHA = e.fake.SyncPullRequest("acme/widgets", e.pr.Number).HeadSHA
}

// diff is GitHub's own diff of the pull request (what it checks review
// comments against).
func (e *env) diff(t *testing.T) []byte {
	t.Helper()
	d, _, err := e.gh.PullRequests.GetRaw(e.ctx, "acme", "widgets", e.pr.Number, github.RawOptions{Type: github.Diff})
	if err != nil {
		t.Fatalf("get diff: %v", err)
	}
	return []byte(d)
}

// gitDiff runs git diff in the fake's bare repository, as gitfetch does
// in a checkout.
func (e *env) gitDiff(t *testing.T, args ...string) []byte {
	t.Helper()
	pr, _ := e.fake.PullRequest("acme/widgets", e.pr.Number)
	cmd := exec.Command("git", append(append([]string{"-C", e.repo.Dir(), "diff", "--no-color", "--no-ext-diff", "-U3"}, args...), pr.BaseSHA, pr.HeadSHA, "--")...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git diff: %v", err)
	}
	return out
}

// finding builds a blocking, new finding.
func finding(check, rule, file string, start, end int, fp string) checks.Evaluated {
	return checks.Evaluated{
		Finding: checks.Finding{
			Check: check, RuleID: rule, Severity: checks.SeverityHigh, Title: rule + " title",
			File: file, StartLine: start, EndLine: end, Fingerprint: fp,
		},
		Status: checks.StatusNew, Blocking: true, Reason: "high ≥ min_severity medium",
	}
}

// secret is the fixture's secret finding on config.env:2 at head.
func (e *env) secret() checks.Evaluated {
	f := finding(checks.Secrets, "aws-access-token", "config.env", 2, 2, "f00d0001")
	f.Match, f.Commit = "aws_key=REDACTED", e.pr.HeadSHA
	f.Message = "raw " + rawSecret // must never be echoed
	return f
}

func verdict(check string, fs ...checks.Evaluated) checks.Verdict {
	v := checks.Verdict{Check: check, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No findings", Findings: fs}
	if n := v.Blocking(); n > 0 {
		v.Conclusion, v.Title = checks.ConclusionFailure, fmt.Sprintf("%d new high findings block this pull request", n)
	} else if len(fs) > 0 {
		v.Conclusion, v.Title = checks.ConclusionNeutral, "findings, none block"
	}
	return v
}

// noSecretSent fails when any request the fake received carries the raw
// secret.
func (e *env) noSecretSent(t *testing.T) {
	t.Helper()
	for _, r := range e.fake.Requests() {
		if strings.Contains(string(r.Body), rawSecret) || strings.Contains(r.Query, rawSecret) {
			t.Errorf("%s %s sent the raw secret", r.Method, r.Path)
		}
	}
}

// countOps counts the requests of an operation ("pulls/create-review").
func (e *env) countOps(op string) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.OperationID == op {
			n++
		}
	}
	return n
}
