// Package e2e runs gatehouse end to end against the project's fake GitHub:
// signed webhook deliveries in, check runs, annotations and comments out.
package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/policysource"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// engines are loaded once for the package: loading trivy's checks takes
// seconds, and trivy's vulnerability DB handle is process-global.
var (
	engines *registry.Set
	dataDir string
)

func TestMain(m *testing.M) {
	// trivy buffers log lines in its default logger until told otherwise.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	code := func() int {
		dir, err := os.MkdirTemp("", "gatehouse-e2e-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		// The real binary is built here and runs a sandboxed child as an
		// unprivileged user, who must be able to execute it.
		if err := os.Chmod(dir, 0o755); err != nil {
			panic(err)
		}
		dataDir = dir
		defer func() {
			if engines != nil {
				_ = engines.Close()
			}
		}()
		return m.Run()
	}()
	os.Exit(code)
}

var enginesOnce sync.Once

// sharedEngines loads the engines on first use, with the fixture DB.
func sharedEngines(t *testing.T) *registry.Set {
	t.Helper()
	enginesOnce.Do(func() {
		depstest.BuildDB(t, registry.DBDir(dataDir))
		set, err := registry.New(registry.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("load engines: %v", err)
		}
		engines = set
	})
	if engines == nil {
		t.Fatal("engines failed to load in an earlier test")
	}
	return engines
}

// harness is one gatehouse serve against one fake GitHub.
type harness struct {
	t      *testing.T
	fake   *githubtest.Server
	srv    *server.Server
	url    string
	secret []byte
	seq    atomic.Int64
	// stop ends the server (once) and waits for it; cleanup calls it too.
	stop func()
}

type option func(*server.Config)

func start(t *testing.T, fake *githubtest.Server, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, fake: fake, secret: []byte("webhook-secret-for-tests")}
	cfg := server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(),
		WebhookSecrets: [][]byte{h.secret}, GitHubURL: fake.URL(), Workers: 2,
		Logger: testLogger(t), Runner: sharedEngines(t).Runner(), Checks: registry.Names,
		Policies: &policysource.Source{}, Splitters: registry.Splitters(), RetryBaseDelay: 10 * time.Millisecond,
		JobRetryBase: 50 * time.Millisecond, PollInterval: 100 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv, h.url = srv, "http://"+srv.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server run: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// deliver signs and posts a delivery and returns the HTTP status.
func (h *harness) deliver(event, id string, body []byte) int {
	h.t.Helper()
	return h.deliverSigned(h.secret, event, id, body)
}

// deliverSigned posts a delivery signed with secret.
func (h *harness) deliverSigned(secret []byte, event, id string, body []byte) int {
	h.t.Helper()
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, h.url+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitRuns waits until n check runs on sha are completed and returns them.
// The deadline is a hang guard, not a performance assertion.
func (h *harness) waitRuns(repo, sha string, n int) []githubtest.CheckRun {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var done []githubtest.CheckRun
		all := h.fake.CheckRuns(repo)
		for _, r := range all {
			if r.HeadSHA == sha && r.Status == "completed" {
				done = append(done, r)
			}
		}
		if len(done) >= n {
			return done
		}
		if time.Now().After(deadline) {
			var states []string
			for _, r := range all {
				if r.HeadSHA == sha {
					states = append(states, r.Name+"="+r.Status+"/"+r.Conclusion+": "+r.Output.Title)
				}
			}
			h.t.Fatalf("timed out waiting for %d completed check runs on %s@%s; have %d on the repo, on this commit: %v", n, repo, sha, len(all), states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitIdle waits until the server has no job left (reviews and comments
// are posted after the check runs complete).
func (h *harness) waitIdle() {
	h.t.Helper()
	if !eventually(func() bool {
		idle, err := h.srv.Idle(context.Background())
		return err == nil && idle
	}) {
		h.t.Fatal("server never went idle")
	}
}

// byName indexes check runs by name.
func byName(runs []githubtest.CheckRun) map[string]githubtest.CheckRun {
	m := map[string]githubtest.CheckRun{}
	for _, r := range runs {
		m[r.Name] = r
	}
	return m
}

// example loads a recorded webhook payload and applies patches: each key a
// dotted path ("pull_request.head.sha"), each value what to set there.
func example(t *testing.T, name string, patch map[string]any) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "webhooks", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for path, v := range patch {
		parts := strings.Split(path, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// prPayload builds a pull_request delivery for a pull request on the fake.
func prPayload(t *testing.T, action string, installation int64, repo *githubtest.Repo, pr githubtest.PullRequest) []byte {
	return example(t, "pull_request."+action, map[string]any{
		"action":                           action,
		"number":                           pr.Number,
		"installation.id":                  installation,
		"repository.full_name":             repo.FullName(),
		"repository.name":                  repo.Name(),
		"repository.owner.login":           repo.Owner(),
		"repository.default_branch":        repo.DefaultBranch(),
		"pull_request.number":              pr.Number,
		"pull_request.state":               "open",
		"pull_request.head.sha":            pr.HeadSHA,
		"pull_request.head.ref":            pr.HeadRef,
		"pull_request.head.repo.full_name": pr.HeadRepo,
		"pull_request.base.sha":            pr.BaseSHA,
		"pull_request.base.ref":            pr.BaseRef,
		"pull_request.base.repo.full_name": repo.FullName(),
	})
}

// pushPayload builds a push delivery.
func pushPayload(t *testing.T, installation int64, repo *githubtest.Repo, branch, before, after string) []byte {
	return example(t, "push", map[string]any{
		"ref":                       "refs/heads/" + branch,
		"before":                    before,
		"after":                     after,
		"deleted":                   false,
		"created":                   strings.Trim(before, "0") == "",
		"installation.id":           installation,
		"repository.full_name":      repo.FullName(),
		"repository.name":           repo.Name(),
		"repository.owner.login":    repo.Owner(),
		"repository.default_branch": repo.DefaultBranch(),
	})
}

func (h *harness) nextID() string {
	return fmt.Sprintf("delivery-%d-%d", time.Now().UnixNano(), h.seq.Add(1))
}
