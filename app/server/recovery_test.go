package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/policysource"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// gatehouse stopped, a pull request opened (GitHub's log records the failed
// delivery), gatehouse started: the pull request gets its check runs, the
// delivery that succeeded before is not asked for again, and no delivery
// is asked for twice (not even by a restart).
func TestMissedDeliveryRecoveredAtStart(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "initial", map[string]string{"README.md": "# demo\n"})
	repo.Commit("feature", "change", map[string]string{"main.go": "package main\n"})
	repo.Commit("other", "change", map[string]string{"other.go": "package main\n"})
	fake.AddInstallation(4242, "octo", "octo/demo")
	first := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "other"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	secret := []byte("hook-secret")
	addr := freePort(t)
	base := "http://" + addr
	fake.SetWebhook(base+"/webhooks/github", secret)
	cfg := Config{
		Addr: addr, DataDir: t.TempDir(), GitHubURL: fake.URL(), AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(),
		WebhookSecrets: [][]byte{secret}, Logger: slog.New(slog.DiscardHandler),
		Runner: cleanRunner{}, Checks: allChecks, Policies: &policysource.Source{},
		RetryBaseDelay: 10 * time.Millisecond, JobRetryBase: 50 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		Recovery: RecoveryConfig{Interval: time.Hour, Pace: time.Millisecond},
	}
	// Running: the first pull request's delivery succeeds.
	_, stop := runServer(t, cfg)
	ok := fake.SendWebhook("pull_request", prDelivery(t, repo, first))
	if ok.StatusCode != http.StatusAccepted {
		t.Fatalf("delivery to a running gatehouse: %d", ok.StatusCode)
	}
	waitCompleted(t, fake, first.HeadSHA, 3)
	stop()

	// Stopped: the second pull request's delivery fails.
	missed := fake.SendWebhook("pull_request", prDelivery(t, repo, pr))
	if missed.StatusCode != 0 {
		t.Fatalf("delivery to a stopped gatehouse: %d, want a connection failure", missed.StatusCode)
	}

	// Started again: the recovery asks for it, and it is gated.
	_, stop = runServer(t, cfg)
	waitCompleted(t, fake, pr.HeadSHA, 3)
	stop()
	// A further restart asks for nothing: the redelivery succeeded.
	_, stop = runServer(t, cfg)
	waitRecoveryPass(t, base)
	stop()

	var asked []string
	for _, r := range fake.Requests() {
		if r.OperationID == "apps/redeliver-webhook-delivery" {
			asked = append(asked, r.Path)
		}
	}
	if len(asked) != 1 || !strings.HasSuffix(asked[0], "/"+strconv.FormatInt(missed.ID, 10)+"/attempts") {
		t.Errorf("redelivery requests %v, want one for attempt %d", asked, missed.ID)
	}
	for _, d := range fake.HookDeliveries() {
		if d.GUID == ok.GUID && d.Redelivery {
			t.Error("the delivery that succeeded was redelivered")
		}
	}
}

// Beyond capacity a delivery is answered 503 with Retry-After at once and
// counted (that it is not stored is app/queue's TestIntakeOverloaded).
func TestOverloadedDeliveryRefusedAtOnce(t *testing.T) {
	dataDir := t.TempDir()
	secret := []byte("s")
	base := startServer(t, Config{
		Role: RoleWeb, DataDir: dataDir, WebhookSecrets: [][]byte{secret},
		IntakeMaxWait: time.Nanosecond, // every delivery waits longer than this
	})
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "webhooks", "issue_comment.created.json"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", "busy-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("overloaded delivery: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, "gatehouse_intake_overloaded_total 1\n") {
		t.Errorf("overload not counted:\n%s", grepLines(metrics, "gatehouse_intake"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitRecoveryPass waits for a completed pass over the delivery log; the
// deadline is a hang guard.
func waitRecoveryPass(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, m := get(t, base+"/metrics"); strings.Contains(m, `gatehouse_recovery_runs_total{outcome="ok"} 1`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no recovery pass completed")
		}
	}
}
