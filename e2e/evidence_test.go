package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

const (
	apiToken  = "evidence-api-token-for-tests"
	publicURL = "https://gatehouse.example.test"
)

// evidenceRepo is octo/demo with a pull request that adds a secret and a
// lockfile with vulnerable packages; sarif turns the repository's
// report.sarif_upload on.
func evidenceRepo(t *testing.T, fake *githubtest.Server, sarif bool) (*githubtest.Repo, githubtest.PullRequest) {
	t.Helper()
	repo := newRepo(t, fake)
	if sarif {
		repo.Commit("main", "policy", map[string]string{".github/gatehouse.yml": "version: 1\nreport:\n  sarif_upload: true\n"})
	}
	lock, err := os.ReadFile(filepath.Join("..", "testdata", "repos", "deps", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	repo.Commit("feature", "add deps and config", map[string]string{
		"package-lock.json": string(lock),
		"config/app.env":    "APP_NAME=demo\nGITHUB_TOKEN=" + plantedToken + "\n",
	})
	return repo, fake.AddPullRequest("octo/demo", githubtest.PullRequest{HeadRef: "feature"})
}

func withEvidence(t *testing.T) option {
	info, err := deps.DBStatus(registry.DBDir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *server.Config) {
		c.PublicURL, c.APITokens = publicURL, []string{apiToken}
		c.DBUpdatedAt = func() time.Time { return info.UpdatedAt }
	}
}

// apiGet calls the evidence API with the token (or without, when auth is "").
func (h *harness) apiGet(path, auth string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestPullRequestEvidence(t *testing.T) {
	fake := githubtest.New(t)
	sharedEngines(t)
	repo, pr := evidenceRepo(t, fake, false)
	h := start(t, fake, withEvidence(t))
	runs := scanAndWait(t, h, repo, pr, "opened")

	// The check runs link the details page of the record.
	sec := runs["gatehouse/secrets"]
	id, ok := strings.CutPrefix(sec.DetailsURL, publicURL+"/v/")
	if !ok || !evidence.ValidID(id) {
		t.Fatalf("details_url = %q, want %s/v/{id}", sec.DetailsURL, publicURL)
	}
	code, body := h.apiGet("/api/v1/verdicts/"+id, apiToken)
	if code != http.StatusOK {
		t.Fatalf("verdict %s: %d %s", id, code, body)
	}
	var env struct {
		Hash   string          `json:"hash"`
		Record evidence.Record `json:"record"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	rec := env.Record
	// What the record says is what the check runs said.
	if rec.Repository != "octo/demo" || rec.Commit.Head != pr.HeadSHA || rec.Event.PullRequest != pr.Number || rec.Decision != "failure" {
		t.Errorf("record header = %s %s #%d %s", rec.Repository, rec.Commit.Head, rec.Event.PullRequest, rec.Decision)
	}
	if len(rec.Policy.SHA256) != 64 || !strings.Contains(sec.Output.Summary+sec.Output.Text, rec.Policy.SHA256[:12]) {
		t.Errorf("policy hash %s is not the one the check run shows:\n%s", rec.Policy.SHA256, sec.Output.Summary)
	}
	info, _ := deps.DBStatus(registry.DBDir(dataDir))
	if rec.VulnDB == nil || !rec.VulnDB.UpdatedAt.Equal(info.UpdatedAt.UTC().Truncate(time.Microsecond)) {
		t.Errorf("vulnerability DB = %+v, want %s", rec.VulnDB, info.UpdatedAt)
	}
	for _, c := range rec.Checks {
		run := runs["gatehouse/"+c.Name]
		if c.Conclusion != run.Conclusion || c.Title != run.Output.Title || c.CheckRunID != run.ID {
			t.Errorf("%s: recorded %s %q (run %d), check run says %s %q (run %d)", c.Name, c.Conclusion, c.Title, c.CheckRunID, run.Conclusion, run.Output.Title, run.ID)
		}
		if c.Engine == nil || c.Engine.Version == "" {
			t.Errorf("%s: no engine version", c.Name)
		}
	}
	if f := rec.Checks[0].Findings; len(f) != len(sec.Annotations) || len(f) == 0 || f[0].File != "config/app.env" || f[0].Status != "new" || !f[0].Blocking {
		t.Errorf("secret findings = %+v, annotations %+v", f, sec.Annotations)
	}
	if bytes.Contains(body, []byte(plantedToken[4:20])) {
		t.Error("the evidence holds the secret")
	}

	// The commit's SBOM lists the lockfile's packages.
	code, body = h.apiGet("/api/v1/sbom/octo/demo/"+pr.HeadSHA, apiToken)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(body), cdx.BOMFileFormatJSON).Decode(&bom); code != http.StatusOK || err != nil || bom.Components == nil {
		t.Fatalf("SBOM: %d %v %s", code, err, body)
	}
	names := map[string]bool{}
	for _, c := range *bom.Components {
		names[c.Name+"@"+c.Version] = true
	}
	for _, want := range []string{"lodash@4.17.11", "minimist@1.2.5", "ms@2.1.3"} {
		if !names[want] {
			t.Errorf("SBOM lacks %s (has %v)", want, names)
		}
	}

	// A re-run (the check run's Re-run button) adds a second record,
	// chained to the first.
	rerun := map[string]any{
		"action": "rerequested", "check_run.head_sha": pr.HeadSHA, "check_run.pull_requests": []any{prRef(pr)},
		"installation.id": installation, "repository.full_name": "octo/demo", "repository.name": "demo",
		"repository.owner.login": "octo", "repository.default_branch": "main", "sender.login": "maintainer",
	}
	if code := h.deliver("check_run", h.nextID(), example(t, "check_run.rerequested", rerun)); code != http.StatusAccepted {
		t.Fatalf("re-run delivery answered %d", code)
	}
	h.waitRuns("octo/demo", pr.HeadSHA, 6)
	h.waitIdle()
	code, body = h.apiGet("/api/v1/verdicts?repo=octo/demo&sha="+pr.HeadSHA, apiToken)
	var page evidence.Page
	if err := json.Unmarshal(body, &page); code != http.StatusOK || err != nil || len(page.Verdicts) != 2 {
		t.Fatalf("verdicts: %d %v %s", code, err, body)
	}
	if page.Verdicts[0].Seq != 2 || page.Verdicts[1].ID != id {
		t.Errorf("verdicts = %+v", page.Verdicts)
	}
	_, body = h.apiGet("/api/v1/verdicts/"+page.Verdicts[0].ID, apiToken)
	var second struct {
		Record evidence.Record `json:"record"`
	}
	if err := json.Unmarshal(body, &second); err != nil || second.Record.PrevHash != env.Hash || second.Record.Event.Trigger != "re-run by @maintainer" {
		t.Errorf("second record: prev_hash %s (want %s), trigger %q", second.Record.PrevHash, env.Hash, second.Record.Event.Trigger)
	}
	var v evidence.Verification
	if code, body = h.apiGet("/api/v1/chain?repo=octo/demo", apiToken); json.Unmarshal(body, &v) != nil || !v.OK || v.Records != 2 {
		t.Errorf("chain: %d %s", code, body)
	}

	// No token, a wrong token: 401 and nothing else.
	for _, auth := range []string{"", "wrong"} {
		if code, body := h.apiGet("/api/v1/verdicts?repo=octo/demo", auth); code != http.StatusUnauthorized || bytes.Contains(body, []byte("octo")) {
			t.Errorf("token %q: %d %s", auth, code, body)
		}
	}
	// The details page needs no token: its address is the credential.
	if code, body := h.apiGet("/v/"+id, ""); code != http.StatusOK || !bytes.Contains(body, []byte(rec.Policy.SHA256)) {
		t.Errorf("details page: %d", code)
	}
	// The policy did not ask for SARIF.
	if ups := fake.SARIFUploads("octo/demo"); len(ups) != 0 {
		t.Errorf("%d SARIF uploads, want none", len(ups))
	}
}

func TestSARIFUploadWhenThePolicyAsks(t *testing.T) {
	fake := githubtest.New(t)
	sharedEngines(t)
	repo, pr := evidenceRepo(t, fake, true)
	h := start(t, fake, withEvidence(t))
	scanAndWait(t, h, repo, pr, "opened")
	ups := fake.SARIFUploads("octo/demo")
	if len(ups) != 1 {
		t.Fatalf("%d SARIF uploads, want 1", len(ups))
	}
	up := ups[0]
	if up.CommitSHA != pr.HeadSHA || up.Ref != "refs/pull/1/head" || up.ToolName != "gatehouse" {
		t.Errorf("upload = %s %s %s", up.CommitSHA, up.Ref, up.ToolName)
	}
	f, err := os.Open(filepath.Join("..", "testdata", "sarif", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///sarif.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(up.SARIF))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("uploaded SARIF is not valid SARIF 2.1.0: %v", err)
	}
	if bytes.Contains(up.SARIF, []byte(plantedToken[4:20])) {
		t.Error("the uploaded SARIF holds the secret")
	}
	for _, cat := range []string{"gatehouse/secrets/", "gatehouse/dependencies/", "gatehouse/iac/"} {
		if !bytes.Contains(up.SARIF, []byte(`"id":"`+cat+`"`)) && !bytes.Contains(up.SARIF, []byte(`"id": "`+cat+`"`)) {
			t.Errorf("no run with category %s", cat)
		}
	}
}
