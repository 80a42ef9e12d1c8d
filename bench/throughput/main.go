// Command throughput measures verdicts per minute of the real gatehouse
// binary scaled out on Postgres: one web replica and 1, then 2, worker
// replicas against the project's fake GitHub (internal/githubtest), a burst of
// small pull requests delivered at once, timed from the first delivery to
// the last completed check run. It samples the memory of every process
// while it runs: the web replica, and each worker with its sandbox children
// (what a worker pod's memory limit covers).
//
// Run it from the repository root; it builds cmd/gatehouse first:
//
//	GOEXPERIMENT=jsonv2 go run ./bench/throughput -prs 40 -workers 1,2
//	GOEXPERIMENT=jsonv2 go run ./bench/throughput -database-url postgres://postgres@127.0.0.1:5432/test
//
// With -served N it measures the served path's latency instead: N pull
// requests one after another on trivy's source, one `serve` on SQLite
// (served.go):
//
//	GOEXPERIMENT=jsonv2 go run ./bench/throughput -served 5 -files 10 -cold 2
//
// Each run gets a fresh Postgres schema, dropped afterwards. The machine's
// load average is printed next to each figure: on a shared machine it says
// how much of the wall time was someone else's.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

const (
	installation = 4242
	secret       = "bench-secret"
	// plantedToken is a GitHub token shape gitleaks reports (not a token).
	plantedToken = "ghp_R8mZ2xQ7vN4kL9pW3sT6yB1cF5hJ0dG8aE2u"
)

func main() {
	prs := flag.Int("prs", 40, "pull requests per run")
	workerList := flag.String("workers", "1,2", "worker replicas of each run, comma-separated")
	slots := flag.Int("slots", 2, "GATEHOUSE_WORKERS of each worker replica")
	dbURL := flag.String("database-url", "", "Postgres server (default: the tests' 127.0.0.1:5432/test); each run uses a fresh schema")
	var so servedOptions
	flag.IntVar(&so.prs, "served", 0, "instead: time N pull requests one after another on a big repository, served by one `gatehouse serve` on SQLite with the sandbox on")
	flag.StringVar(&so.source, "source", "", "-served: the repository's content (default: trivy's source from the module cache)")
	flag.IntVar(&so.files, "files", 10, "-served: changed Go files per pull request, besides one planted secret")
	flag.IntVar(&so.cold, "cold", 2, "-served: cold CI runs to compare with")
	flag.BoolVar(&so.iac, "iac", false, "-served: each pull request also adds a Terraform file with a misconfiguration")
	flag.BoolVar(&so.install, "install", true, "-served: install the app first (its baseline scan of the default branch), as a real installation does; false: the first pull request meets a fresh mirror")
	flag.Parse()
	if *dbURL != "" {
		_ = os.Setenv(storetest.EnvPostgres, *dbURL)
	}
	var counts []int
	for _, f := range strings.Split(*workerList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "throughput: -workers %q: want positive numbers\n", *workerList)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	bin, err := build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	failed := false
	if so.prs > 0 {
		testing.Benchmark(func(b *testing.B) { measureServed(b, bin, so); failed = b.Failed() })
		if failed {
			os.Exit(1)
		}
		return
	}
	// testing.Benchmark gives the fake GitHub and the store helpers the
	// testing.TB they want, outside `go test`; the function runs once.
	testing.Benchmark(func(b *testing.B) {
		for _, n := range counts {
			r := measure(b, bin, n, *slots, *prs)
			if b.Failed() {
				break
			}
			fmt.Println(r)
		}
		failed = b.Failed()
	})
	if failed {
		os.Exit(1)
	}
}

// build compiles cmd/gatehouse into a temporary directory.
func build() (string, error) {
	dir, err := os.MkdirTemp("", "gatehouse-throughput-")
	if err != nil {
		return "", err
	}
	// The sandbox user must be able to run the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build (run from the repository root): %v\n%s", err, out)
	}
	return bin, nil
}

// result is one run's figures.
type result struct {
	workers, slots, prs int
	took                time.Duration
	webPeak             int64   // bytes, VmHWM of the web process
	workerPeak          int64   // bytes, largest VmHWM of a worker process itself
	workerTreePeak      int64   // bytes, largest sampled RSS of a worker and its children
	loadBefore          string  // /proc/loadavg at the start
	loadAfter           string  // and at the end
	scansPerWorker      []int   // scans each worker reported
	reviewComments      int     // on the pull requests with the planted token
	verdictsPerMinute   float64 // pull requests with three completed check runs, per minute
}

func (r result) String() string {
	return fmt.Sprintf("workers=%d×%d prs=%d: %s, %.1f verdicts/min (%.1f check runs/min); scans per worker %v; "+
		"peak RSS web %d MiB, worker process %d MiB, worker with sandbox children %d MiB; load avg before [%s] after [%s]",
		r.workers, r.slots, r.prs, r.took.Round(100*time.Millisecond), r.verdictsPerMinute, 3*r.verdictsPerMinute,
		r.scansPerWorker, r.webPeak>>20, r.workerPeak>>20, r.workerTreePeak>>20, r.loadBefore, r.loadAfter)
}

func measure(b *testing.B, bin string, workers, slots, prs int) result {
	pg := storetest.Config(b, store.DriverPostgres)
	fake := githubtest.New(b)
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "initial", map[string]string{"README.md": "# demo\n", "main.go": "package main\n\nfunc main() {}\n"})
	fake.AddInstallation(installation, "octo", "octo/demo")
	pulls := make([]githubtest.PullRequest, prs)
	for i := range prs {
		branch := fmt.Sprintf("feature-%03d", i)
		files := map[string]string{fmt.Sprintf("docs/%03d.md", i): "a small change\n"}
		if i%10 == 0 {
			files["ci.env"] = "TOKEN=" + plantedToken + "\n"
		}
		repo.Commit(branch, "change "+branch, files)
		pulls[i] = fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: branch})
	}
	keyPath := filepath.Join(b.TempDir(), "app.pem")
	if err := os.WriteFile(keyPath, fake.PrivateKeyPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	env := func(role string) []string {
		data, err := os.MkdirTemp("", "gatehouse-throughput-data-")
		if err != nil {
			b.Fatal(err)
		}
		_ = os.Chmod(data, 0o755)
		b.Cleanup(func() { _ = os.RemoveAll(data) })
		if role == "worker" {
			depstest.BuildDB(b, registry.DBDir(data))
		}
		return []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "GATEHOUSE_LOG_FORMAT=text",
			"GATEHOUSE_DATA_DIR=" + data, "GATEHOUSE_APP_ID=" + fmt.Sprint(fake.AppID()),
			"GATEHOUSE_PRIVATE_KEY_PATH=" + keyPath, "GATEHOUSE_WEBHOOK_SECRET=" + secret,
			"GATEHOUSE_GITHUB_URL=" + fake.URL(), "GATEHOUSE_OFFLINE=true",
			"GATEHOUSE_DATABASE_URL=" + pg.URL, "GATEHOUSE_ROLE=" + role, "GATEHOUSE_WORKERS=" + strconv.Itoa(slots),
		}
	}
	web := start(b, bin, env("web"))
	var ws []*proc
	for range workers {
		ws = append(ws, start(b, bin, env("worker")))
	}
	// Warm: every worker's sandbox children have loaded the engines.
	for _, w := range ws {
		w.waitReady(b)
	}

	mem := sampleMemory(web, ws)
	r := result{workers: workers, slots: slots, prs: prs, loadBefore: loadavg()}
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, pr := range pulls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := prPayload(b, repo, pr)
			if code := deliver(web.addr, fmt.Sprintf("throughput-%d", i), body); code != http.StatusAccepted {
				b.Errorf("delivery %d answered %d", i, code)
			}
		}()
	}
	wg.Wait()
	waitVerdicts(b, fake, pulls)
	r.took = time.Since(start)
	r.loadAfter = loadavg()
	r.verdictsPerMinute = float64(prs) / r.took.Minutes()
	r.webPeak, r.workerPeak, r.workerTreePeak = mem.stop()
	for _, w := range ws {
		r.scansPerWorker = append(r.scansPerWorker, strings.Count(w.logs(), `msg="scan reported"`))
	}
	for i, pr := range pulls {
		if i%10 == 0 {
			r.reviewComments += len(fake.ReviewComments("octo/demo", pr.Number))
		}
	}
	return r
}

// waitVerdicts waits until every pull request has three completed check
// runs; it gives up when none completes for three minutes.
func waitVerdicts(b *testing.B, fake *githubtest.Server, pulls []githubtest.PullRequest) {
	last, seen := time.Now(), -1
	for {
		done := map[string]int{}
		n := 0
		for _, r := range fake.CheckRuns("octo/demo") {
			if r.Status == "completed" {
				done[r.HeadSHA]++
				n++
			}
		}
		waiting := 0
		for _, pr := range pulls {
			if done[pr.HeadSHA] < 3 {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if n > seen {
			seen, last = n, time.Now()
		}
		if time.Since(last) > 3*time.Minute {
			b.Fatalf("no check run completed for 3 minutes; %d pull requests waiting", waiting)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proc is a running gatehouse serve.
type proc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func start(b *testing.B, bin string, env []string) *proc {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	p := &proc{addr: addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = append(env, "GATEHOUSE_ADDR="+addr)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	b.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(40 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			// Fatalf outside go test loses the message: print it first.
			fmt.Fprintf(os.Stderr, "gatehouse exited:\n%s\n", p.logs())
			b.Fatalf("gatehouse exited")
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("gatehouse not healthy after 2 minutes:\n%s", p.logs())
		}
	}
}

// waitReady waits for /readyz: database, app and a warm sandbox child.
func (p *proc) waitReady(b *testing.B) {
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("worker not ready after 3 minutes:\n%s", p.logs())
		}
	}
}

func deliver(addr, id string, body []byte) int {
	return deliverEvent(addr, "pull_request", id, body)
}

// deliverEvent sends a signed delivery of event.
func deliverEvent(addr, event, id string, body []byte) int {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// prPayload is GitHub's recorded pull_request.opened example, patched to
// name the pull request on the fake.
func prPayload(b *testing.B, repo *githubtest.Repo, pr githubtest.PullRequest) []byte {
	return payload(b, "pull_request.opened.json", map[string]any{
		"action": "opened", "number": pr.Number, "installation.id": installation,
		"repository.full_name": repo.FullName(), "repository.name": repo.Name(), "repository.owner.login": repo.Owner(),
		"repository.default_branch": repo.DefaultBranch(),
		"pull_request.number":       pr.Number, "pull_request.state": "open",
		"pull_request.head.sha": pr.HeadSHA, "pull_request.head.ref": pr.HeadRef, "pull_request.head.repo.full_name": pr.HeadRepo,
		"pull_request.base.sha": pr.BaseSHA, "pull_request.base.ref": pr.BaseRef, "pull_request.base.repo.full_name": repo.FullName(),
	})
}

// installPayload is GitHub's recorded installation.created example for an
// installation of repo alone, as an org's install of the app sends it.
func installPayload(b *testing.B, repo *githubtest.Repo) []byte {
	return payload(b, "installation.created.json", map[string]any{
		"installation.id": installation,
		"repositories":    []any{map[string]any{"name": repo.Name(), "full_name": repo.FullName(), "private": true}},
	})
}

// payload reads a recorded delivery from testdata/webhooks and sets the
// dotted paths in set.
func payload(b *testing.B, name string, set map[string]any) []byte {
	raw, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	for path, v := range set {
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
		b.Fatal(err)
	}
	return out
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
