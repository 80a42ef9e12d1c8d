package githubtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v88/github"
)

// recordingTB lets a test see the failures the server reports instead of
// failing on them.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// baseFile has 40 numbered lines, so hunks stay apart.
func baseFile() string {
	var b strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// changedFile changes line 10 and line 30 of baseFile.
func changedFile() string {
	lines := strings.Split(strings.TrimSuffix(baseFile(), "\n"), "\n")
	lines[9] = "line 10 changed"
	lines[29] = "line 30 changed"
	return strings.Join(lines, "\n") + "\n"
}

// fixture is a server with acme/widgets installed (installation 1), a
// feature branch and pull request #1.
type fixture struct {
	s    *Server
	repo *Repo
	pr   PullRequest
	ctx  context.Context
}

const installationID = 1

func newFixture(t testing.TB, opts ...Option) *fixture {
	t.Helper()
	s := New(t, opts...)
	repo := s.AddRepo("acme", "widgets")
	repo.Commit("main", "base", map[string]string{"app.txt": baseFile(), "README.md": "hello\n"})
	repo.Commit("feature", "change", map[string]string{"app.txt": changedFile(), "new.txt": "one\ntwo\n"})
	s.AddInstallation(installationID, "acme", "widgets")
	pr := s.AddPullRequest("acme/widgets", PullRequest{HeadRef: "feature"})
	return &fixture{s: s, repo: repo, pr: pr, ctx: context.Background()}
}

// client returns a go-github client with the given Authorization token.
func (f *fixture) client(t testing.TB, token string) *github.Client {
	t.Helper()
	base := f.s.URL() + "/"
	c, err := github.NewClient(github.WithAuthToken(token), github.WithURLs(&base, &base))
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// installationClient gets a token through the API, as the app does.
func (f *fixture) installationClient(t testing.TB) *github.Client {
	t.Helper()
	tok, _, err := f.client(t, f.s.AppJWT()).Apps.CreateInstallationToken(f.ctx, installationID, nil)
	if err != nil {
		t.Fatalf("create installation token: %v", err)
	}
	return f.client(t, tok.GetToken())
}

// statusOf returns the HTTP status of a go-github call's response.
func statusOf(resp *github.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
