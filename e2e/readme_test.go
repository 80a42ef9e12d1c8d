package e2e

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestMakeServeOnAFreshMachine is README's `make serve` on a fresh
// machine, as root (a stock home is 0700) and as a normal user: a checkout
// in a new 0700 home with the binary where the Makefile builds it
// (bin/gatehouse; the package is built once for the test run, without the
// Makefile's -trimpath and version), the command the serve target runs
// after its build (`make -n serve`'s last line) from that checkout, and no
// GATEHOUSE_DATA_DIR, so the data dir is the default one under that home. It must come up with the setup page, and once an app is
// configured, scan a pull request in the sandbox, whose unprivileged child
// reads the vulnerability DB and the checkout under that home.
//
// Two departures from a real first run, both for the test's sake: the
// address is a free port (GATEHOUSE_ADDR), and GATEHOUSE_OFFLINE is set
// so that nothing is downloaded; the DB is the fixture one, put where
// `gatehouse db update` would.
func TestMakeServeOnAFreshMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.CannotRun(t, "needs root: to run serve as root and as another user")
	}
	if _, err := exec.LookPath("make"); err != nil {
		testenv.CannotRun(t, "no make: %v", err)
	}
	serve := makeServeCommand(t)
	bin := binary(t) // the same package the Makefile builds, built once
	uid := freeUID(t)
	for _, tc := range []struct {
		name     string
		uid, gid int
	}{
		{"root", 0, 0},
		{"normal user", uid, uid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home, err := os.MkdirTemp("", "gatehouse-home-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(home) })
			must(t, os.Chmod(home, 0o700))
			repoDir := filepath.Join(home, "src", "gatehouse")
			must(t, os.MkdirAll(filepath.Join(repoDir, "bin"), 0o755))
			copyFile(t, bin, filepath.Join(repoDir, "bin", "gatehouse"), 0o755)
			chownAll(t, home, tc.uid, tc.gid)
			addr := freeAddr(t)
			run := func(env ...string) *proc {
				cmd := exec.Command(serve[0], serve[1:]...)
				cmd.Dir = repoDir
				cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
					"GATEHOUSE_ADDR=" + addr, "GATEHOUSE_OFFLINE=true"}, env...)
				if tc.uid != 0 {
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
						Uid: uint32(tc.uid), Gid: uint32(tc.gid), Groups: []uint32{}}}
				}
				return startCmd(t, cmd, addr)
			}

			// First start: no app, so the setup page; the log says where.
			p := run()
			setupURL := "http://" + addr + "/setup"
			if !strings.Contains(p.Logs(), setupURL) {
				t.Errorf("the log does not show the setup page %s:\n%s", setupURL, p.Logs())
			}
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.Get("http://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/setup" {
				t.Errorf("GET / = %d to %q, want a redirect to /setup", resp.StatusCode, loc)
			}
			p.stop(t)
			data := filepath.Join(home, ".local", "share", "gatehouse")
			if st, err := os.Stat(data); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(tc.uid) {
				t.Fatalf("default data dir %s: %v (want it made by serve, owned by uid %d)", data, err, tc.uid)
			}

			// Second start, with an app (the fake GitHub) and the DB: a pull
			// request is scanned in the sandbox.
			fake := githubtest.New(t)
			repo := newRepo(t, fake)
			lock, err := os.ReadFile(filepath.Join("..", "testdata", "repos", "deps", "package-lock.json"))
			must(t, err)
			repo.Commit("feature", "add config and a lockfile", map[string]string{
				"config/app.env":    "GITHUB_TOKEN=" + plantedToken + "\n",
				"package-lock.json": string(lock),
			})
			pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
			depstest.BuildDB(t, registry.DBDir(data))
			keyPath := filepath.Join(home, "app.pem")
			must(t, os.WriteFile(keyPath, fake.PrivateKeyPEM(), 0o600))
			chownAll(t, home, tc.uid, tc.gid)
			p = run("GATEHOUSE_APP_ID="+fmt.Sprint(fake.AppID()), "GATEHOUSE_PRIVATE_KEY_PATH="+keyPath,
				"GATEHOUSE_WEBHOOK_SECRET=fresh-secret", "GATEHOUSE_GITHUB_URL="+fake.URL())
			h := &harness{t: t, fake: fake, url: "http://" + addr, secret: []byte("fresh-secret")}
			if code := h.deliver("pull_request", "fresh-1", prPayload(t, "opened", installation, repo, pr)); code != http.StatusAccepted {
				t.Fatalf("delivery answered %d:\n%s", code, p.Logs())
			}
			runs := byName(h.waitRuns("octo/demo", pr.HeadSHA, 3))
			if r := runs["gatehouse/secrets"]; r.Conclusion != "failure" {
				t.Errorf("secrets = %s (%s), want the planted token to block\n%s", r.Conclusion, r.Output.Title, p.Logs())
			}
			if r := runs["gatehouse/dependencies"]; r.Conclusion != "failure" || !strings.Contains(r.Output.Title, "vulnerab") {
				t.Errorf("dependencies = %s (%s), want the lockfile's vulnerabilities from the DB under the 0700 home\n%s",
					r.Conclusion, r.Output.Title, p.Logs())
			}
			resp, err = http.Get("http://" + addr + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			ready, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(ready), `"sandbox":"ok"`) {
				t.Errorf("/readyz = %d %s, want the sandbox ok", resp.StatusCode, ready)
			}
		})
	}
}

// makeServeCommand is the command `make serve` runs after its build, from
// the repository: `make -n serve`'s last line.
func makeServeCommand(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("make", "-n", "-s", "serve")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n serve: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "-o bin/gatehouse ./cmd/gatehouse") {
		t.Fatalf("make -n serve:\n%s\nwant the build of ./cmd/gatehouse into bin/gatehouse, then the command", out)
	}
	serve := strings.Fields(lines[len(lines)-1])
	if len(serve) == 0 || serve[0] != "./bin/gatehouse" {
		t.Fatalf("make serve runs %q, want ./bin/gatehouse …", lines[len(lines)-1])
	}
	return serve
}

// freeUID is a uid (and gid) no account uses, for a normal user made up
// for the test: serve needs no passwd entry.
func freeUID(t *testing.T) int {
	t.Helper()
	for id := 61000; id < 62000; id++ {
		_, errU := user.LookupId(strconv.Itoa(id))
		_, errG := user.LookupGroupId(strconv.Itoa(id))
		if errU != nil && errG != nil {
			return id
		}
	}
	t.Fatal("no free uid in 61000-61999")
	return 0
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, mode))
}

// chownAll gives dir and everything in it to uid:gid.
func chownAll(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	must(t, filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
