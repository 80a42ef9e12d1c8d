package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// The real binary, started with no app: the log points at /setup, the
// setup page creates the app on the fake GitHub, and the same process then
// scans a pull request. gatehouse doctor agrees. After a restart it is
// still configured and /setup is gone.
func TestBinarySetupFlow(t *testing.T) {
	fake := githubtest.New(t)
	repo := newRepo(t, fake)
	repo.Commit("feature", "add config", map[string]string{"config/app.env": "GITHUB_TOKEN=" + plantedToken + "\n"})
	pr := fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
	data := sandboxDir(t)
	depstest.BuildDB(t, registry.DBDir(data))
	addr := freeAddr(t)
	base := "http://" + addr
	env := []string{"GATEHOUSE_DATA_DIR=" + data, "GATEHOUSE_GITHUB_URL=" + fake.URL(), "GATEHOUSE_PUBLIC_URL=" + base, "GATEHOUSE_OFFLINE=true"}

	p := startBinary(t, env, addr)
	if !eventually(func() bool { return strings.Contains(p.Logs(), base+"/setup") }) {
		t.Errorf("the log does not point at the setup page:\n%s", p.Logs())
	}
	h := &harness{t: t, fake: fake, url: base, secret: []byte("not-yet")}
	body := prPayload(t, "opened", installation, repo, pr)
	if code := h.deliver("pull_request", "before-setup", body); code != http.StatusServiceUnavailable {
		t.Errorf("delivery before setup = %d, want 503", code)
	}
	if code, _ := httpGet(t, base+"/setup/callback?state=forged&code=abc"); code != http.StatusBadRequest {
		t.Errorf("callback with a forged state = %d, want 400", code)
	}

	// The browser: the page, GitHub's form, the redirect back.
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
		t.Fatalf("done page = %d:\n%s\n%s", resp.StatusCode, done, p.Logs())
	}
	stored, err := setup.Load(data)
	if err != nil || stored == nil {
		t.Fatalf("stored credentials: %v", err)
	}

	// The same process scans now.
	h.secret = []byte(stored.WebhookSecret)
	if code := h.deliver("pull_request", "after-setup", body); code != http.StatusAccepted {
		t.Fatalf("delivery after setup = %d, want 202:\n%s", code, p.Logs())
	}
	runs := byName(h.waitRuns("octo/demo", pr.HeadSHA, 3))
	if runs["gatehouse/secrets"].Conclusion != "failure" {
		t.Errorf("secrets = %q, want failure", runs["gatehouse/secrets"].Conclusion)
	}
	if code, _ := httpGet(t, base+"/setup"); code != http.StatusNotFound {
		t.Errorf("/setup after setup = %d, want 404", code)
	}

	// gatehouse doctor, with the server running.
	doctor := exec.Command(binary(t), "doctor")
	doctor.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := doctor.CombinedOutput()
	for _, want := range []string{"ok    GitHub App ", "ok    GitHub API ", "ok    installations ", "ok    webhook secret ", "ok    database (sqlite)", "ok    vulnerability DB"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	if err != nil {
		t.Errorf("gatehouse doctor failed (%v) for a configured, installed app", err)
	}
	t.Logf("gatehouse doctor:\n%s", out)

	// Restart: still configured, setup still closed.
	p.stop(t)
	p2 := startBinary(t, env, addr)
	if !strings.Contains(p2.Logs(), "using the GitHub App stored by /setup") {
		t.Errorf("restart did not use the stored app:\n%s", p2.Logs())
	}
	for _, path := range []string{"/setup", "/setup/callback?state=x&code=y"} {
		if code, _ := httpGet(t, base+path); code != http.StatusNotFound {
			t.Errorf("%s after restart = %d, want 404", path, code)
		}
	}
	if code := h.deliver("pull_request", "after-restart", prPayload(t, "synchronize", installation, repo, pr)); code != http.StatusAccepted {
		t.Errorf("delivery after restart = %d, want 202", code)
	}
	for _, l := range []string{p.Logs(), p2.Logs(), string(out)} {
		for _, secret := range []string{stored.WebhookSecret, stored.ClientSecret, "PRIVATE KEY"} {
			if strings.Contains(l, secret) {
				t.Errorf("a secret reached a log: %q", secret)
			}
		}
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// personalForm finds the form that posts the manifest to GitHub's app
// form for a personal account, as a browser would submit it.
func personalForm(t *testing.T, page, github string) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`<form method="post" action="(` + regexp.QuoteMeta(github) + `/settings/apps/new\?state=[^"]+)">\s*<input type="hidden" name="manifest" value="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no personal-account form in:\n%s", page)
	}
	unescape := strings.NewReplacer("&#34;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'")
	return unescape.Replace(m[1]), unescape.Replace(m[2])
}
