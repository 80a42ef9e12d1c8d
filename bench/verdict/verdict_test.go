// Package verdict measures gatehouse's verdicts on a big repository:
// trivy's own source tree (from the module cache) committed into a
// repository of the fake GitHub. It runs only when asked:
//
//	GATEHOUSE_BENCH=1 GOEXPERIMENT=jsonv2 go test ./bench/verdict -run Verdict -v -timeout 30m -args -runs 5 -cold 2
//
// It prints, with the machine's load:
//   - the first scan of the default branch (a baseline: all three checks on
//     the whole tree, fresh mirror, empty finding cache) and a re-scan of the
//     same commit (the cache's ratio);
//   - the verdict latency of N pull requests, each changing 10 files and
//     adding one secret (p50, p90), from the scan job's start to the last
//     check run completed on the fake GitHub;
//   - the cold path on the same pull requests: a fresh `git clone`, then the
//     engines cold in a fresh process (`gitleaks git` + `trivy fs` when the
//     CLIs are installed, else `gatehouse scan --base`, which runs gitleaks
//     over the range and trivy's vulnerability and misconfiguration scanners
//     on the whole tree, in-process, from a cold start);
//   - the peak RSS of this process during the pull request scans (fake GitHub, store, engines with the DB
//     open and the scans).
//
// The worker runs the engines in-process (checks.Local), not in the
// sandbox: the sandbox's warm pool adds its per-scan overhead (see
// docs/security.md) on top.
package verdict

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/policysource"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/worker"
	"github.com/gatehouse/gatehouse/bench/internal/sample"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/verdict"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

var (
	runs      = flag.Int("runs", 5, "pull requests measured")
	coldRuns  = flag.Int("cold", 2, "cold-path runs")
	prFiles   = flag.String("files", "10", "files each pull request changes (a comma-separated list measures each size; the cold path uses the first)")
	sourceDir = flag.String("source", "", "the big repository's content (default: trivy's module source)")
)

// secret is a GitHub token shaped string gitleaks reports.
const secret = "ghp_R8mZ2xQ7vN4kL9pW3sT6yB1cF5hJ0dG8aE2u"

func TestVerdictLatency(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH") == "" {
		t.Skip("a benchmark: set GATEHOUSE_BENCH=1 to run it")
	}
	ctx := context.Background()
	src := *sourceDir
	if src == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aquasecurity/trivy").Output()
		if err != nil {
			t.Fatalf("trivy's module source: %v", err)
		}
		src = strings.TrimSpace(string(out))
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("source %s; load average at start: %s", src, strings.TrimSpace(string(load)))

	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "big")
	repo.SetPublic(true) // the cold path clones without a token
	main := repo.ImportDir("main", src)
	fake.AddInstallation(7, "octo", "octo/big")
	urls, _ := ghclient.ParseURLs(fake.URL())
	gh, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	depstest.BuildDB(t, registry.DBDir(data))
	set, err := registry.New(registry.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	st, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dbDate := func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }
	work := filepath.Join(data, "work")
	w := worker.New(worker.Config{
		Store: st, Clients: gh, Policies: &policysource.Source{}, Checks: registry.Names,
		Pipeline: verdict.New(verdict.Config{Runner: set.Runner(), Splitters: registry.Splitters(), Cache: st, WorkDir: work, DBUpdatedAt: dbDate}),
		WorkDir:  work, Logger: benchLogger(), DBUpdatedAt: dbDate,
	})
	ghc, _ := gh.Installation(7)
	runsFor := func(sha string, s jobs.Scan) jobs.Scan {
		s.HeadSHA = sha
		ids, err := report.QueueCheckRuns(ctx, ghc, fake.AppID(), s, registry.Names, "")
		if err != nil {
			t.Fatal(err)
		}
		s.CheckRuns = ids
		return s
	}

	// First scan and re-scan of the default branch.
	base := jobs.Scan{DeliveryID: "baseline", InstallationID: 7, Repo: "octo/big", Kind: jobs.ScanBaseline, HeadSHA: main, HeadRef: "main", DefaultBranch: "main"}
	var first, rescan time.Duration
	for i, d := range []*time.Duration{&first, &rescan} {
		s := runsFor(main, base)
		s.DeliveryID = fmt.Sprintf("baseline-%d", i)
		t0 := time.Now()
		if err := w.Scan(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
		*d = time.Since(t0)
	}
	t.Logf("first scan of the tree (baseline, all checks): %s", first.Round(time.Millisecond))
	t.Logf("re-scan of the same commit: %s (%.1f× faster)", rescan.Round(time.Millisecond), float64(first)/float64(rescan))

	// Pull requests: N changed files and one new secret each. The peak RSS
	// is reset first (clear_refs 5), so the figure below is the PR scans'.
	// The heap the first scan grew is handed back first, so what is left
	// is the resident set of the engines, the DB and the services.
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	var prs []githubtest.PullRequest
	var p50 time.Duration
	for si, size := range strings.Split(*prFiles, ",") {
		n, err := strconv.Atoi(size)
		if err != nil {
			t.Fatalf("-files %q", *prFiles)
		}
		goFiles, err := sample.GoFiles(src, n)
		if err != nil {
			t.Fatal(err)
		}
		var warm []time.Duration
		for i := range *runs {
			branch := fmt.Sprintf("pr-%d-%d", n, i)
			files := map[string]string{fmt.Sprintf("config/creds-%d-%d.env", n, i): "GITHUB_TOKEN=" + secret + "\n"}
			for _, p := range goFiles {
				b, _ := os.ReadFile(filepath.Join(src, p))
				files[p] = string(b) + fmt.Sprintf("\n// change %d\n", i)
			}
			head := repo.Commit(branch, "change", files)
			pr := fake.AddPullRequest("octo/big", githubtest.PullRequest{HeadRef: branch})
			if si == 0 {
				prs = append(prs, pr)
			}
			s := runsFor(head, jobs.Scan{
				DeliveryID: "pr-" + branch, InstallationID: 7, Repo: "octo/big", Kind: jobs.ScanPullRequest,
				HeadSHA: head, HeadRef: branch, BaseSHA: main, BaseRef: "main", PRNumber: pr.Number, DefaultBranch: "main",
			})
			t0 := time.Now()
			if err := w.Scan(ctx, s, nil); err != nil {
				t.Fatal(err)
			}
			warm = append(warm, time.Since(t0))
			for _, r := range fake.CheckRuns("octo/big") {
				if r.HeadSHA == head && r.Name == "gatehouse/secrets" && r.Conclusion != "failure" {
					t.Errorf("%s: secrets concluded %q, want failure (the new secret)", branch, r.Conclusion)
				}
			}
		}
		if si == 0 {
			p50 = sample.Percentile(warm, 50)
		}
		t.Logf("verdict latency, PR with %d changed files + 1 secret, %d runs: p50 %s p90 %s (all: %v)", n, len(warm), sample.Percentile(warm, 50), sample.Percentile(warm, 90), sample.Rounded(warm))
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				t.Logf("peak RSS during the pull request scans (engines loaded, DB open, fake GitHub and store in the same process): %s", strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")))
			}
		}
	}

	// The cold path on the same pull requests.
	cold := coldPath(t, repo, prs, main)
	if len(cold) > 0 {
		c50 := sample.Percentile(cold, 50)
		t.Logf("cold path p50 %s (all: %v): gatehouse is %.1f× faster", c50, sample.Rounded(cold), float64(c50)/float64(p50))
	}
	load, _ = os.ReadFile("/proc/loadavg")
	t.Logf("load average at end: %s", strings.TrimSpace(string(load)))
}

// coldPath clones each pull request's head afresh and scans it cold.
func coldPath(t *testing.T, repo *githubtest.Repo, prs []githubtest.PullRequest, base string) []time.Duration {
	t.Helper()
	if *coldRuns == 0 {
		return nil
	}
	gitleaks, _ := exec.LookPath("gitleaks")
	trivy, _ := exec.LookPath("trivy")
	bin := filepath.Join(t.TempDir(), "gatehouse")
	if gitleaks == "" || trivy == "" {
		root, _ := filepath.Abs("../..")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build gatehouse: %v\n%s", err, out)
		}
		t.Logf("cold path: gitleaks/trivy CLIs not installed; using `gatehouse scan --base` in a fresh process (engines loaded cold, whole tree)")
	} else {
		t.Logf("cold path: %s git + %s fs", gitleaks, trivy)
	}
	data := t.TempDir()
	depstest.BuildDB(t, registry.DBDir(data))
	var out []time.Duration
	for i, pr := range prs {
		if i >= *coldRuns {
			break
		}
		dir := filepath.Join(t.TempDir(), "clone")
		t0 := time.Now()
		run(t, "", "git", "-c", "protocol.file.allow=never", "clone", "-q", "--no-tags", "-b", pr.HeadRef, repo.CloneURL(), dir)
		run(t, dir, "git", "fetch", "-q", "origin", "main")
		if gitleaks != "" && trivy != "" {
			run(t, dir, gitleaks, "git", "--no-banner", "--exit-code", "0", "--log-opts", base+".."+pr.HeadSHA, ".")
			run(t, dir, trivy, "fs", "--quiet", "--skip-db-update", "--scanners", "vuln,misconfig", "--cache-dir", data, ".")
		} else {
			cmd := exec.Command(bin, "scan", "--no-cache", "--base", base, "--data-dir", data, "--format", "json", ".")
			cmd.Dir = dir
			if o, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("gatehouse scan: %v\n%s", err, o)
			}
		}
		out = append(out, time.Since(t0))
	}
	return out
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// benchLogger shows the worker's debug log (what each tree scan read and
// took from the cache) with GATEHOUSE_BENCH_LOG=1.
func benchLogger() *slog.Logger {
	if os.Getenv("GATEHOUSE_BENCH_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
