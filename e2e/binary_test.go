package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds cmd/gatehouse once per test run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(dataDir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/gatehouse")
		cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a running gatehouse binary.
type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *strings.Builder
	mu   *sync.Mutex
	done chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startBinary runs `gatehouse serve` with env and waits for /healthz.
func startBinary(t *testing.T, env []string, addr string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GATEHOUSE_ADDR=" + addr, "GATEHOUSE_LOG_FORMAT=text"}, env...)
	return startCmd(t, cmd, addr)
}

// startCmd starts cmd, a gatehouse serve listening on addr, and waits for
// its /healthz; the process is stopped when the test ends.
func startCmd(t *testing.T, cmd *exec.Cmd, addr string) *proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr, logs: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("gatehouse exited before it was healthy:\n%s", p.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse not healthy after 2 minutes:\n%s", p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logs returns what the process logged so far.
func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// sandboxDir is a directory the sandboxed scanner (an unprivileged user)
// can pass through: t.TempDir's parent is private to root.
func sandboxDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gatehouse-e2e-data-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// binaryEnv is the environment of a gatehouse process talking to fake.
func binaryEnv(t *testing.T, fake *githubtest.Server, dataDir, secret string) []string {
	t.Helper()
	keyPath := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyPath, fake.PrivateKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"GATEHOUSE_DATA_DIR=" + dataDir,
		"GATEHOUSE_APP_ID=" + fmt.Sprint(fake.AppID()),
		"GATEHOUSE_PRIVATE_KEY_PATH=" + keyPath,
		"GATEHOUSE_WEBHOOK_SECRET=" + secret,
		"GATEHOUSE_GITHUB_URL=" + fake.URL(),
		"GATEHOUSE_OFFLINE=true",
	}
}

// The real binary: a delivery acknowledged with 202 survives kill -9 and
// its job completes after a restart, with one set of check runs.
func TestBinaryKilledAfterAckFinishesAfterRestart(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "add config", map[string]string{
		"config/app.env": "GITHUB_TOKEN=" + plantedToken + "\n",
	})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	data := sandboxDir(t)
	depstest.BuildDB(t, registry.DBDir(data))
	env := binaryEnv(t, fake, data, "bin-secret")
	addr := freeAddr(t)

	p := startBinary(t, env, addr)
	h := &harness{t: t, fake: fake, url: "http://" + addr, secret: []byte("bin-secret")}
	if code := h.deliver("pull_request", "kill-me-1", prPayload(t, "opened", installation, repo, pr)); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d:\n%s", code, p.Logs())
	}
	p.kill(t)
	completedBefore := 0
	for _, r := range fake.CheckRuns("octo/demo") {
		if r.Status == "completed" {
			completedBefore++
		}
	}
	t.Logf("check runs completed before the restart: %d of 3", completedBefore)

	p2 := startBinary(t, env, addr)
	runs := byName(h.waitRuns("octo/demo", pr.HeadSHA, 3))
	// The scan ran in the sandbox, and /readyz says so.
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	ready, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(ready), `"sandbox":"ok"`) {
		t.Errorf("/readyz = %d %s", resp.StatusCode, ready)
	}
	if runs["gatehouse/secrets"].Conclusion != "failure" {
		t.Errorf("secrets = %s: %s\n%s", runs["gatehouse/secrets"].Conclusion, runs["gatehouse/secrets"].Output.Summary, p2.Logs())
	}
	if n := len(fake.CheckRuns("octo/demo")); n != 3 {
		t.Errorf("%d check runs, want 3 (a retried job updates its own)", n)
	}
	// A redelivery of the same id after the restart is a duplicate.
	if code := h.deliver("pull_request", "kill-me-1", prPayload(t, "opened", installation, repo, pr)); code != http.StatusAccepted {
		t.Fatalf("redelivery answered %d", code)
	}
	if !eventually(func() bool { return strings.Contains(p2.Logs(), "webhook duplicate ignored") }) {
		t.Errorf("redelivery not recognised as a duplicate:\n%s", p2.Logs())
	}
	// A small pull request on the warm server: webhook in to the last check
	// run completed, through the real sandbox. Logged (go test -v), not
	// asserted: timings are measured, never tested.
	repo.Commit("small", "small change", map[string]string{"docs/small.md": "hello\n"})
	small := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "small"})
	t0 := time.Now()
	if code := h.deliver("pull_request", "small-1", prPayload(t, "opened", installation, repo, small)); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	h.waitRuns("octo/demo", small.HeadSHA, 3)
	t.Logf("verdict latency of a small pull request (real binary, sandboxed, warm): %s", time.Since(t0).Round(time.Millisecond))
	// Nothing secret in the logs.
	for _, l := range []string{p.Logs(), p2.Logs()} {
		if strings.Contains(l, plantedToken) || strings.Contains(l, "BEGIN RSA PRIVATE KEY") {
			t.Errorf("a secret reached the log")
		}
	}
}

// eventually polls cond for up to ten seconds (a hang guard, not a timing
// assertion).
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
