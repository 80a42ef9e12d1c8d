package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// TestDemoSession runs the README's evidence walk-through on the real
// binary against the fake GitHub and then keeps both up for
// GATEHOUSE_DEMO_SECONDS, so a person can try the API with curl:
//
//	GATEHOUSE_DEMO_SECONDS=300 go test ./e2e -run TestDemoSession -v &
//	. /tmp/gatehouse-demo.env   # GH, TOKEN, REPO, SHA
//	curl -s -H "Authorization: Bearer $TOKEN" "$GH/api/v1/verdicts?repo=$REPO&sha=$SHA"
//
// Without the variable it is skipped (CI covers the API in
// TestPullRequestEvidence).
func TestDemoSession(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("GATEHOUSE_DEMO_SECONDS"))
	if secs <= 0 {
		t.Skip("set GATEHOUSE_DEMO_SECONDS to keep a demo server up for curl")
	}
	fake := githubtest.New(t)
	repo, pr := evidenceRepo(t, fake, false)
	data := sandboxDir(t)
	depstest.BuildDB(t, registry.DBDir(data))
	addr := freeAddr(t)
	env := append(binaryEnv(t, fake, data, "demo-secret"),
		"GATEHOUSE_API_TOKENS=demo-token", "GATEHOUSE_PUBLIC_URL=http://"+addr)
	p := startBinary(t, env, addr)
	h := &harness{t: t, fake: fake, url: "http://" + addr, secret: []byte("demo-secret")}
	if code := h.deliver("pull_request", "demo-1", prPayload(t, "opened", installation, repo, pr)); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d:\n%s", code, p.Logs())
	}
	for _, r := range h.waitRuns(repo.FullName(), pr.HeadSHA, 3) {
		t.Logf("%s: %s — %s (details %s)", r.Name, r.Conclusion, r.Output.Title, r.DetailsURL)
	}
	envFile := filepath.Join(os.TempDir(), "gatehouse-demo.env")
	content := fmt.Sprintf("GH=http://%s\nTOKEN=demo-token\nREPO=%s\nSHA=%s\n", addr, repo.FullName(), pr.HeadSHA)
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("demo up for %ds; variables in %s:\n%s", secs, envFile, content)
	time.Sleep(time.Duration(secs) * time.Second)
}
