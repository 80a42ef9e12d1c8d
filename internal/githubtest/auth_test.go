package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v88/github"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAppJWTChecks(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	claims := func(iat, exp time.Time, iss any) jwt.MapClaims {
		return jwt.MapClaims{"iat": iat.Unix(), "exp": exp.Unix(), "iss": iss}
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(now.Add(-time.Minute), now.Add(5*time.Minute), f.s.AppID())).SignedString(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		token   string
		status  int
		message string
	}{
		{"valid, numeric iss", f.s.SignJWT(claims(now.Add(-time.Minute), now.Add(9*time.Minute), f.s.AppID())), http.StatusOK, ""},
		{"valid, string iss", f.s.AppJWT(), http.StatusOK, ""},
		{"expired", f.s.SignJWT(claims(now.Add(-11*time.Minute), now.Add(-time.Minute), f.s.AppID())), http.StatusUnauthorized, "'Expiration time' claim ('exp') must be a numeric value"},
		{"GitHub's documented shape: iat-60s, exp+600s", f.s.SignJWT(claims(now.Add(-time.Minute), now.Add(10*time.Minute), f.s.AppID())), http.StatusOK, ""},
		{"ghinstallation's shape: iat-30s, exp 2 minutes later", f.s.SignJWT(claims(now.Add(-30*time.Second), now.Add(90*time.Second), f.s.AppID())), http.StatusOK, ""},
		{"expires more than 10 minutes ahead", f.s.SignJWT(claims(now.Add(-time.Minute), now.Add(11*time.Minute), f.s.AppID())), http.StatusUnauthorized, "too far in the future"},
		{"issued in the future", f.s.SignJWT(claims(now.Add(time.Minute), now.Add(5*time.Minute), f.s.AppID())), http.StatusUnauthorized, "'Issued at' claim"},
		{"another app", f.s.SignJWT(claims(now.Add(-time.Minute), now.Add(5*time.Minute), f.s.AppID()+1)), http.StatusUnauthorized, "'Issuer' claim"},
		{"another key", foreign, http.StatusUnauthorized, "could not be decoded"},
		{"installation token", f.s.IssueToken(installationID), http.StatusUnauthorized, "could not be decoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, resp, err := f.client(t, tc.token).Apps.Get(f.ctx, "")
			if statusOf(resp) != tc.status {
				t.Fatalf("GET /app: status %d (err %v), want %d", statusOf(resp), err, tc.status)
			}
			if tc.status == http.StatusOK && app.GetID() != f.s.AppID() {
				t.Errorf("app id %d, want %d", app.GetID(), f.s.AppID())
			}
			if tc.message != "" && (err == nil || !strings.Contains(err.Error(), tc.message)) {
				t.Errorf("error %v does not say %q", err, tc.message)
			}
		})
	}
}

func TestInstallationTokenCoverage(t *testing.T) {
	f := newFixture(t)
	other := f.s.AddRepo("other", "thing")
	other.Commit("main", "init", map[string]string{"a": "b\n"})
	f.s.AddInstallation(2, "other")
	otherToken := f.s.IssueToken(2)
	for _, tc := range []struct {
		name   string
		token  string
		repo   string
		status int
	}{
		{"own repository", f.s.IssueToken(installationID), "acme/widgets", http.StatusOK},
		{"all-repositories installation", otherToken, "other/thing", http.StatusOK},
		{"token of another installation", otherToken, "acme/widgets", http.StatusNotFound},
		{"no such repository", otherToken, "other/none", http.StatusNotFound},
		{"unknown token", "ghs_" + strings.Repeat("x", 36), "acme/widgets", http.StatusUnauthorized},
		{"app JWT on a repository route", f.s.AppJWT(), "acme/widgets", http.StatusForbidden},
		{"no token", "", "acme/widgets", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gh *github.Client
			if tc.token == "" {
				base := f.s.URL() + "/"
				gh, _ = github.NewClient(github.WithURLs(&base, &base))
			} else {
				gh = f.client(t, tc.token)
			}
			owner, name, _ := strings.Cut(tc.repo, "/")
			_, resp, err := gh.Repositories.Get(f.ctx, owner, name)
			if statusOf(resp) != tc.status {
				t.Errorf("GET /repos/%s: status %d (err %v), want %d", tc.repo, statusOf(resp), err, tc.status)
			}
		})
	}
}

func TestTokenExpiresAfterAnHour(t *testing.T) {
	clk := &testClock{t: time.Now()}
	f := newFixture(t, WithClock(clk.now))
	gh := f.installationClient(t)
	if f.s.TokenCount() != 1 {
		t.Fatalf("TokenCount = %d, want 1", f.s.TokenCount())
	}
	tok := f.s.Tokens()[0]
	if got := tok.ExpiresAt.Sub(tok.IssuedAt); got != time.Hour {
		t.Errorf("token lifetime %v, want 1h", got)
	}
	if _, _, err := gh.Repositories.Get(f.ctx, "acme", "widgets"); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clk.advance(time.Hour)
	_, resp, _ := gh.Repositories.Get(f.ctx, "acme", "widgets")
	if statusOf(resp) != http.StatusUnauthorized {
		t.Errorf("expired token: status %d, want 401", statusOf(resp))
	}
}

func TestRemovedInstallationRevokesTokens(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	f.s.RemoveInstallation(installationID)
	_, resp, _ := gh.Repositories.Get(f.ctx, "acme", "widgets")
	if statusOf(resp) != http.StatusUnauthorized {
		t.Errorf("status %d after uninstall, want 401", statusOf(resp))
	}
	_, resp, _ = f.client(t, f.s.AppJWT()).Apps.CreateInstallationToken(f.ctx, installationID, nil)
	if statusOf(resp) != http.StatusNotFound {
		t.Errorf("new token after uninstall: status %d, want 404", statusOf(resp))
	}
}

func TestNarrowedTokens(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("acme", "gadgets")
	f.s.AddInstallationRepos(installationID, "gadgets")
	app := f.client(t, f.s.AppJWT())
	tok, _, err := app.Apps.CreateInstallationToken(f.ctx, installationID, &github.InstallationTokenOptions{
		Repositories: []string{"widgets"},
		Permissions:  &github.InstallationPermissions{Contents: github.Ptr("read"), Metadata: github.Ptr("read")},
	})
	if err != nil {
		t.Fatalf("narrowed token: %v", err)
	}
	gh := f.client(t, tok.GetToken())
	if _, _, err := gh.Repositories.Get(f.ctx, "acme", "widgets"); err != nil {
		t.Errorf("narrowed token on its repository: %v", err)
	}
	if _, resp, _ := gh.Repositories.Get(f.ctx, "acme", "gadgets"); statusOf(resp) != http.StatusNotFound {
		t.Errorf("narrowed token on another repository: status %d, want 404", statusOf(resp))
	}
	_, resp, _ := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", github.CreateCheckRunOptions{Name: "n", HeadSHA: f.pr.HeadSHA})
	if statusOf(resp) != http.StatusForbidden {
		t.Errorf("check run with a contents-only token: status %d, want 403", statusOf(resp))
	}
	for name, opts := range map[string]*github.InstallationTokenOptions{
		"repository outside the installation": {Repositories: []string{"nope"}},
		"permission above the installation's": {Permissions: &github.InstallationPermissions{Administration: github.Ptr("write")}},
	} {
		if _, resp, _ := app.Apps.CreateInstallationToken(f.ctx, installationID, opts); statusOf(resp) != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", name, statusOf(resp))
		}
	}
}

func TestInstallationPermissionsEnforced(t *testing.T) {
	f := newFixture(t)
	f.s.SetInstallationPermissions(installationID, map[string]string{"metadata": "read", "contents": "read"})
	gh := f.installationClient(t)
	_, resp, _ := gh.Checks.CreateCheckRun(f.ctx, "acme", "widgets", github.CreateCheckRunOptions{Name: "n", HeadSHA: f.pr.HeadSHA})
	if statusOf(resp) != http.StatusForbidden {
		t.Errorf("create check run without checks permission: status %d, want 403", statusOf(resp))
	}
	_, resp, _ = gh.Issues.CreateComment(f.ctx, "acme", "widgets", f.pr.Number, &github.IssueComment{Body: github.Ptr("x")})
	if statusOf(resp) != http.StatusForbidden {
		t.Errorf("comment without pull_requests/issues permission: status %d, want 403", statusOf(resp))
	}
}

func TestPublicRepositoryReadableByAnyToken(t *testing.T) {
	f := newFixture(t)
	fork := f.s.AddFork(f.repo, "mallory")
	fork.SetPublic(true)
	gh := f.client(t, f.s.IssueToken(installationID))
	if _, _, err := gh.Repositories.Get(f.ctx, "mallory", "widgets"); err != nil {
		t.Errorf("read public fork: %v", err)
	}
	_, resp, _ := gh.Checks.CreateCheckRun(f.ctx, "mallory", "widgets", github.CreateCheckRunOptions{Name: "n", HeadSHA: f.pr.BaseSHA})
	if statusOf(resp) != http.StatusForbidden {
		t.Errorf("write to a public repository outside the installation: status %d, want 403", statusOf(resp))
	}
}
