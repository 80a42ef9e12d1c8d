package githubtest

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// authURL puts basic auth x-access-token:<token> into a clone URL.
func authURL(t *testing.T, cloneURL, token string) string {
	t.Helper()
	u, err := url.Parse(cloneURL)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		u.User = url.UserPassword("x-access-token", token)
	}
	return u.String()
}

func TestGitCloneOverHTTP(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken(installationID)
	dir := filepath.Join(t.TempDir(), "clone")
	if err := f.s.git(f.ctx, "", nil, "clone", "--quiet", authURL(t, f.repo.CloneURL(), token), dir); err != nil {
		t.Fatalf("clone with token: %v", err)
	}
	head, err := f.s.gitOut(f.ctx, dir, nil, nil, "rev-parse", "HEAD")
	if err != nil || head != f.pr.BaseSHA {
		t.Errorf("cloned HEAD %s (%v), want %s", head, err, f.pr.BaseSHA)
	}
	// The pull request head is fetchable by its ref, and by sha with depth 1
	// over protocol v2, as gatehouse's worker fetches it.
	if err := f.s.git(f.ctx, dir, nil, "fetch", "--quiet", "origin", "refs/pull/1/head"); err != nil {
		t.Errorf("fetch refs/pull/1/head: %v", err)
	}
	shallow := filepath.Join(t.TempDir(), "shallow")
	if err := f.s.git(f.ctx, "", nil, "init", "--quiet", shallow); err != nil {
		t.Fatal(err)
	}
	if err := f.s.git(f.ctx, shallow, nil, "-c", "protocol.version=2", "fetch", "--quiet", "--depth=1", authURL(t, f.repo.CloneURL(), token), f.pr.HeadSHA); err != nil {
		t.Errorf("shallow fetch by sha: %v", err)
	}
	reqs := f.s.Requests()
	if last := reqs[len(reqs)-1]; last.OperationID != "git" || last.Auth != "basic" || last.InstallationID != installationID {
		t.Errorf("last git request recorded as %+v", last)
	}
}

func TestGitAccessRules(t *testing.T) {
	f := newFixture(t)
	fork := f.s.AddFork(f.repo, "mallory")
	fork.Commit("evil", "evil", map[string]string{"evil.txt": "x\n"})
	pr := f.s.AddPullRequest("acme/widgets", PullRequest{HeadRepo: "mallory/widgets", HeadRef: "evil"})
	token := f.s.IssueToken(installationID)
	for _, tc := range []struct {
		name    string
		repo    *Repo
		token   string
		ref     string
		wantErr string
	}{
		{"fork's pull request head through the base repository", f.repo, token, "refs/pull/" + itoa(pr.Number) + "/head", ""},
		{"no credentials", f.repo, "", "refs/heads/main", "could not read Username"},
		{"unknown token", f.repo, "ghs_" + strings.Repeat("y", 36), "refs/heads/main", "Authentication failed"},
		{"private fork outside the installation", fork, token, "refs/heads/evil", "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := f.s.git(f.ctx, dir, nil, "init", "--quiet"); err != nil {
				t.Fatal(err)
			}
			err := f.s.git(f.ctx, dir, nil, "fetch", "--quiet", authURL(t, tc.repo.CloneURL(), tc.token), tc.ref)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("fetch: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("fetch error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
	got, err := f.s.gitOut(f.ctx, f.repo.Dir(), nil, nil, "rev-parse", "refs/pull/"+itoa(pr.Number)+"/head")
	if err != nil || got != fork.Head("evil") {
		t.Errorf("base repo refs/pull/N/head = %s (%v), want the fork's head %s", got, err, fork.Head("evil"))
	}
}

func TestGitPushRefused(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken(installationID)
	dir := filepath.Join(t.TempDir(), "clone")
	if err := f.s.git(f.ctx, "", nil, "clone", "--quiet", authURL(t, f.repo.CloneURL(), token), dir); err != nil {
		t.Fatal(err)
	}
	err := f.s.git(f.ctx, dir, nil, "push", "--quiet", "origin", "HEAD:refs/heads/pwned")
	if err == nil {
		t.Fatal("push over HTTP succeeded; GitHub refuses a read-only token")
	}
	if _, err := f.s.gitOut(f.ctx, f.repo.Dir(), nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/pwned"); err == nil {
		t.Error("branch pwned exists after a refused push")
	}
}

func TestGitChallengeWithoutCredentials(t *testing.T) {
	f := newFixture(t)
	resp, err := f.s.Client().Get(f.repo.CloneURL() + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
