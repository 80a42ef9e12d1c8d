package main

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/bench/internal/sample"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// servedOptions are the flags of the served-path mode.
type servedOptions struct {
	prs, files, cold int
	source           string
	install          bool
	// iac adds a Terraform file to each pull request, so that its IaC
	// check has a unit to scan.
	iac bool
}

// measureServed times the served path one pull request at a time: the
// real binary (`serve`, its SQLite default, the sandbox on) against the
// fake GitHub serving a big repository (trivy's source by default); each
// pull request changes o.files Go files and adds a secret, and is timed
// from its webhook to its last completed check run. The first one meets
// a fresh mirror. The cold path is what a CI job does on the same pull
// request: a fresh clone, then every engine loaded cold over the whole
// tree (`gatehouse scan --no-cache --base`, a fresh process).
func measureServed(b *testing.B, bin string, o servedOptions) {
	src := o.source
	if src == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aquasecurity/trivy").Output()
		if err != nil {
			b.Fatalf("trivy's module source: %v", err)
		}
		src = strings.TrimSpace(string(out))
	}
	goFiles, err := sample.GoFiles(src, o.files)
	if err != nil {
		b.Fatal(err)
	}
	fake := githubtest.New(b)
	repo := fake.AddRepo("octo", "big")
	main := repo.ImportDir("main", src)
	fake.AddInstallation(installation, "octo", "octo/big")
	keyPath := filepath.Join(b.TempDir(), "app.pem")
	if err := os.WriteFile(keyPath, fake.PrivateKeyPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	// Not b.TempDir(): its parent is 0700, and the sandbox user reads
	// the DB (before issue 19's fix, that stopped serve).
	data, err := os.MkdirTemp("", "gatehouse-served-")
	if err != nil {
		b.Fatal(err)
	}
	_ = os.Chmod(data, 0o755)
	b.Cleanup(func() { _ = os.RemoveAll(data) })
	depstest.BuildDB(b, registry.DBDir(data))
	p := start(b, bin, []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "GATEHOUSE_LOG_FORMAT=text",
		"GATEHOUSE_DATA_DIR=" + data, "GATEHOUSE_APP_ID=" + fmt.Sprint(fake.AppID()),
		"GATEHOUSE_PRIVATE_KEY_PATH=" + keyPath, "GATEHOUSE_WEBHOOK_SECRET=" + secret,
		"GATEHOUSE_GITHUB_URL=" + fake.URL(), "GATEHOUSE_OFFLINE=true",
		// A profile of serve, and its debug lines (each tree scan's steps).
		"GATEHOUSE_CPUPROFILE=" + os.Getenv("GATEHOUSE_CPUPROFILE"), "GATEHOUSE_LOG_LEVEL=" + cmp.Or(os.Getenv("GATEHOUSE_LOG_LEVEL"), "info"),
	})
	p.waitReady(b)
	tf := ""
	if o.iac {
		tf = " + 1 Terraform file"
	}
	fmt.Printf("served path: %s (%s), %d pull requests of %d changed Go files + 1 secret%s; load avg [%s]\n",
		src, main[:12], o.prs, o.files, tf, loadavg())
	if o.install {
		t0 := time.Now()
		if code := deliverEvent(p.addr, "installation", "served-install", installPayload(b, repo)); code != http.StatusAccepted {
			b.Fatalf("installation delivery answered %d", code)
		}
		waitCompleted(b, fake, "octo/big", main)
		fmt.Printf("install baseline (default branch, whole tree, new mirror): %s; load avg [%s]\n", time.Since(t0).Round(time.Millisecond), loadavg())
	}
	mem := sampleMemory(p, []*proc{p})
	var took []time.Duration
	var starts []time.Time
	var pulls []githubtest.PullRequest
	for i := range o.prs {
		branch := fmt.Sprintf("pr-%d", i)
		files := map[string]string{fmt.Sprintf("config/creds-%d.env", i): "GITHUB_TOKEN=" + plantedToken + "\n"}
		if o.iac {
			files[fmt.Sprintf("deploy/pr-%d/main.tf", i)] = openIngress
		}
		for _, f := range goFiles {
			c, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				b.Fatal(err)
			}
			files[f] = string(c) + fmt.Sprintf("\n// change %d\n", i)
		}
		repo.Commit(branch, "change", files)
		pr := fake.AddPullRequest("octo/big", githubtest.PullRequest{HeadRef: branch})
		pulls = append(pulls, pr)
		body := prPayload(b, repo, pr)
		t0 := time.Now()
		starts = append(starts, t0)
		if code := deliver(p.addr, "served-"+branch, body); code != http.StatusAccepted {
			b.Fatalf("delivery answered %d", code)
		}
		waitCompleted(b, fake, "octo/big", pr.HeadSHA)
		took = append(took, time.Since(t0))
		for _, r := range fake.CheckRuns("octo/big") {
			if r.HeadSHA == pr.HeadSHA && r.Name == "gatehouse/secrets" && r.Conclusion != "failure" {
				b.Errorf("%s: secrets concluded %q, want failure (the planted secret)", branch, r.Conclusion)
			}
			if o.iac && r.HeadSHA == pr.HeadSHA && r.Name == "gatehouse/iac" && r.Conclusion != "failure" {
				b.Errorf("%s: iac concluded %q, want failure (the open security group)", branch, r.Conclusion)
			}
		}
	}
	_, _, tree := mem.stop()
	p50 := sample.Percentile(took, 50)
	fmt.Printf("verdict (webhook in -> last check run completed): p50 %s, worst %s (first, fresh mirror: %s); all %v\n",
		p50, slices.Max(took).Round(time.Millisecond), took[0].Round(time.Millisecond), sample.Rounded(took))
	root, child := mem.parts()
	fmt.Printf("peak PSS of gatehouse serve with its sandbox children: %d MiB (serve alone: %d MiB, largest child: %d MiB)\n", tree>>20, root>>20, child>>20)
	if path := os.Getenv("GATEHOUSE_BENCH_LOG"); path != "" {
		if err := os.WriteFile(path, []byte(p.logs()), 0o644); err != nil {
			b.Error(err)
		}
	}
	phase := regexp.MustCompile(`phases\.\S+`)
	steps := regexp.MustCompile(`(?:rev|units|cached|read|ran|took\.\w+)=\S+`)
	for _, l := range strings.Split(p.logs(), "\n") {
		if strings.Contains(l, `msg="scan reported"`) {
			fmt.Println("  phases:", strings.Join(phase.FindAllString(l, -1), " "))
		}
		if strings.Contains(l, `msg="tree scanned"`) {
			fmt.Println("    tree:", strings.Join(steps.FindAllString(l, -1), " "))
		}
	}
	if n := len(took); n > 0 {
		// The last pull request's calls to GitHub, as the fake saw them.
		t0, end := starts[n-1], starts[n-1].Add(took[n-1])
		fmt.Printf("  GitHub calls of the last pull request (offset from its webhook, the fake's own time):\n")
		for _, r := range fake.Requests() {
			if r.At.Before(t0) || r.At.After(end) {
				continue
			}
			fmt.Printf("    +%-6s %-6s %-40s %s\n", r.At.Sub(t0).Round(time.Millisecond), r.Took.Round(time.Millisecond), r.OperationID, r.Method+" "+r.Path)
		}
	}
	if o.cold > 0 {
		cold := coldCI(b, bin, repo, pulls[:min(o.cold, len(pulls))])
		c50 := sample.Percentile(cold, 50)
		fmt.Printf("cold CI job (clone + gatehouse scan --no-cache --base, fresh process): p50 %s, all %v; served p50 is %.1fx faster\n",
			c50, sample.Rounded(cold), float64(c50)/float64(p50))
	}
	fmt.Printf("load avg at end [%s]\n", loadavg())
}

// openIngress is a Terraform file with one misconfiguration (a security
// group open to the world: AWS-0107).
const openIngress = `resource "aws_security_group" "web" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
`

// waitCompleted waits for three completed check runs on sha.
func waitCompleted(b *testing.B, fake *githubtest.Server, repo, sha string) {
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := 0
		for _, r := range fake.CheckRuns(repo) {
			if r.HeadSHA == sha && r.Status == "completed" {
				n++
			}
		}
		if n >= 3 {
			return
		}
	}
	b.Fatalf("no verdict on %s after 10 minutes", sha)
}

// coldCI clones each pull request afresh and scans it in a new process.
func coldCI(b *testing.B, bin string, repo *githubtest.Repo, pulls []githubtest.PullRequest) []time.Duration {
	data := b.TempDir()
	depstest.BuildDB(b, registry.DBDir(data))
	repo.SetPublic(true) // a CI job's clone carries its own credentials; the fake's are the app's
	var out []time.Duration
	for _, pr := range pulls {
		dir := filepath.Join(b.TempDir(), "clone")
		t0 := time.Now()
		for _, args := range [][]string{
			{"git", "clone", "-q", "--no-tags", "-b", pr.HeadRef, repo.CloneURL(), dir},
			{"git", "-C", dir, "fetch", "-q", "origin", "main"},
		} {
			if o, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "%v: %v\n%s\n", args, err, o) // Fatalf outside go test loses it
				b.Fatalf("%v failed", args)
			}
		}
		cmd := exec.Command(bin, "scan", "--no-cache", "--base", "origin/main", "--data-dir", data, "--format", "json", ".")
		cmd.Dir = dir
		if o, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 1 {
			fmt.Fprintf(os.Stderr, "gatehouse scan: %v\n%s\n", err, o)
			b.Fatalf("gatehouse scan failed")
		}
		out = append(out, time.Since(t0))
	}
	return out
}
