package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/policysource"
	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// cleanRunner finds nothing: enough to see the planner and the worker run.
type cleanRunner struct{}

func (cleanRunner) Run(_ context.Context, req checks.Request) (*checks.Response, error) {
	resp := &checks.Response{}
	for _, c := range req.Checks {
		resp.Results = append(resp.Results, &checks.Result{Check: c, Engine: checks.Engine{Name: "stub", Version: "v0"}})
	}
	return resp, nil
}

var allChecks = []string{checks.Secrets, checks.Dependencies, checks.IaC}

// runServer starts a server on addr and returns a stop function that
// waits for Run to return.
func runServer(t *testing.T, cfg Config) (*Server, func()) {
	t.Helper()
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return srv, stop
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start without an app, create it through /setup as a browser would, and
// the same process takes signed deliveries and creates check runs; after
// a restart it is still configured and /setup is gone.
func TestSetupSwitchesToRunningWithoutRestart(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "initial", map[string]string{"README.md": "# demo\n"})
	repo.Commit("feature", "change", map[string]string{"main.go": "package main\n"})
	fake.AddInstallation(4242, "octo", "octo/demo")
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})

	addr := freePort(t)
	base := "http://" + addr
	logs := &syncBuffer{}
	cfg := Config{
		Addr: addr, DataDir: t.TempDir(), GitHubURL: fake.URL(), PublicURL: base,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Runner: cleanRunner{}, Checks: allChecks,
		Policies: &policysource.Source{}, RetryBaseDelay: 10 * time.Millisecond, JobRetryBase: 50 * time.Millisecond,
		PollInterval: 100 * time.Millisecond,
	}
	_, stop := runServer(t, cfg)

	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "open /setup") {
		t.Errorf("/readyz before setup = %d %s", code, body)
	}
	payload := prDelivery(t, repo, pr)
	if code := deliver(t, base, "before", []byte("anything"), payload); code != http.StatusServiceUnavailable {
		t.Errorf("delivery before setup = %d, want 503", code)
	}
	if !strings.Contains(logs.String(), base+"/setup") {
		t.Errorf("the log does not point at the setup page:\n%s", logs.String())
	}

	// A callback with a state this server never issued changes nothing.
	if code, _ := get(t, base+"/setup/callback?state=forged&code=abc"); code != http.StatusBadRequest {
		t.Errorf("forged callback = %d, want 400", code)
	}

	// The browser: load /setup, post its form to GitHub, follow GitHub's
	// redirect back to the callback.
	// A browser keeps the setup cookie: GitHub's redirect back to the
	// callback must come from the browser that loaded the page.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	pageResp, err := browser.Get(base + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	pageBody, _ := io.ReadAll(pageResp.Body)
	pageResp.Body.Close()
	page := string(pageBody)
	action, manifest := personalForm(t, page, fake.URL())
	resp, err := browser.PostForm(action, url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(done), "gatehouse is set up") || strings.Contains(string(done), "could not start") {
		t.Fatalf("done page = %d:\n%s", resp.StatusCode, done)
	}
	stored, err := setup.Load(cfg.DataDir)
	if err != nil || stored == nil {
		t.Fatalf("stored credentials: %v", err)
	}

	// Running now, in the same process.
	if code, body := get(t, base+"/readyz"); strings.Contains(body, "not configured") {
		t.Errorf("/readyz after setup = %d %s", code, body)
	}
	if code := deliver(t, base, "old-secret", []byte("anything"), payload); code != http.StatusUnauthorized {
		t.Errorf("delivery signed with another secret = %d, want 401", code)
	}
	if code := deliver(t, base, "after-setup", []byte(stored.WebhookSecret), payload); code != http.StatusAccepted {
		t.Fatalf("delivery signed with the new secret = %d, want 202", code)
	}
	waitCompleted(t, fake, pr.HeadSHA, 3)
	for _, p := range []string{"/setup", "/setup/callback?state=x&code=y"} {
		if code, _ := get(t, base+p); code != http.StatusNotFound {
			t.Errorf("GET %s after setup = %d, want 404", p, code)
		}
	}
	for _, secret := range []string{stored.WebhookSecret, stored.ClientSecret, "PRIVATE KEY"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a secret reached the log: %q", secret)
		}
	}

	// Restart: the stored credentials configure the app at start.
	stop()
	env := setup.Merge(setup.Credentials{}, stored)
	cfg2 := cfg
	cfg2.AppID, cfg2.PrivateKey, cfg2.WebhookSecrets = env.AppID, env.PrivateKey, [][]byte{[]byte(env.WebhookSecret)}
	runServer(t, cfg2)
	if code, _ := get(t, base+"/setup"); code != http.StatusNotFound {
		t.Errorf("/setup after restart = %d, want 404", code)
	}
	if code := deliver(t, base, "after-restart", []byte(stored.WebhookSecret), payload); code != http.StatusAccepted {
		t.Errorf("delivery after restart = %d, want 202", code)
	}
}

func TestConfigureTwiceRefused(t *testing.T) {
	fake := githubtest.New(t)
	srv, _ := runServer(t, Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), GitHubURL: fake.URL(), Logger: slog.New(slog.DiscardHandler),
		Runner: cleanRunner{}, Checks: allChecks, Policies: &policysource.Source{},
	})
	c := setup.Credentials{AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), WebhookSecret: "s"}
	if err := srv.Configure(context.Background(), setup.Credentials{AppID: 1}); err == nil {
		t.Error("Configure without a key: no error")
	}
	if err := srv.Configure(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := srv.Configure(context.Background(), c); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("second Configure = %v, want an error", err)
	}
}

// personalForm finds the form posting to GitHub's personal app form and
// its manifest.
func personalForm(t *testing.T, page, github string) (string, string) {
	t.Helper()
	action := regexp.MustCompile(`<form method="post" action="(` + regexp.QuoteMeta(github) + `/settings/apps/new\?state=[^"]+)">\s*<input type="hidden" name="manifest" value="([^"]+)">`).FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no personal-account form in:\n%s", page)
	}
	unescape := strings.NewReplacer("&#34;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'")
	return unescape.Replace(action[1]), unescape.Replace(action[2])
}

func prDelivery(t *testing.T, repo *githubtest.Repo, pr githubtest.PullRequest) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "webhooks", "pull_request.opened.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	set := func(path string, v any) {
		parts := strings.Split(path, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	set("number", pr.Number)
	set("installation.id", 4242)
	set("repository.full_name", repo.FullName())
	set("repository.name", repo.Name())
	set("repository.owner.login", repo.Owner())
	set("repository.default_branch", repo.DefaultBranch())
	set("pull_request.number", pr.Number)
	set("pull_request.state", "open")
	set("pull_request.head.sha", pr.HeadSHA)
	set("pull_request.head.ref", pr.HeadRef)
	set("pull_request.head.repo.full_name", pr.HeadRepo)
	set("pull_request.base.sha", pr.BaseSHA)
	set("pull_request.base.ref", pr.BaseRef)
	set("pull_request.base.repo.full_name", repo.FullName())
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func deliver(t *testing.T, base, id string, secret, body []byte) int {
	t.Helper()
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitCompleted waits for n completed check runs on sha; the deadline is
// a hang guard, not a timing assertion.
func waitCompleted(t *testing.T, fake *githubtest.Server, sha string, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		done := 0
		for _, r := range fake.CheckRuns("octo/demo") {
			if r.HeadSHA == sha && r.Status == "completed" {
				done++
			}
		}
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d check runs completed: %+v", done, n, fake.CheckRuns("octo/demo"))
		}
	}
}

// syncBuffer is a log sink the test can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDefaultAddr: without GATEHOUSE_ADDR, serve listens on loopback only
// until an app is configured: the setup page is not on the network before
// its owner has used it.
func TestDefaultAddr(t *testing.T) {
	if got := DefaultAddr(false); got != "127.0.0.1:8080" {
		t.Errorf("DefaultAddr without an app = %q, want 127.0.0.1:8080", got)
	}
	if got := DefaultAddr(true); got != ":8080" {
		t.Errorf("DefaultAddr with an app = %q, want :8080", got)
	}
}
