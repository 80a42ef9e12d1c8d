package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/api"
	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// The same commit id in two repositories, so a filter that forgot the
// repository would show.
const sha = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"

var tokens = []string{"first-token-0123456789", "second-token-9876543210"}

// env is the API over a store holding a pull request verdict of
// acme/widgets (with an SBOM), its re-run, and a push of acme/gadgets at
// the same commit (without one). The first verdict was recorded before
// gatehouse had a signing key; the others are signed with signer.
type env struct {
	cfg     store.Config
	rec     *evidence.Recorder
	h       http.Handler
	widgets []string // record ids, oldest first
	gadgets string
	signer  *attest.Signer
}

func newEnv(t *testing.T, driver string, cfg api.Config) *env {
	t.Helper()
	ctx := context.Background()
	scfg := storetest.Config(t, driver)
	st := storetest.OpenConfig(t, scfg)
	now := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Minute); return now }
	rec, err := evidence.New(ctx, evidence.Config{Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: scfg, rec: rec}
	if e.signer, _, err = attest.GenerateKey(attest.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	for i, in := range []evidence.Input{
		input(t, "acme/widgets", jobs.ScanPullRequest, "d1", true),
		input(t, "acme/widgets", jobs.ScanPullRequest, "d2", true),
		input(t, "acme/gadgets", jobs.ScanPush, "d3", false),
	} {
		id, err := e.rec.Record(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 { // the key is created: gatehouse restarts signing
			e.rec, err = evidence.New(ctx, evidence.Config{Store: st, Now: clock, Signer: e.signer})
			if err != nil {
				t.Fatal(err)
			}
		}
		if i < 2 {
			e.widgets = append(e.widgets, id)
		} else {
			e.gadgets = id
		}
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	cfg.Evidence = e.rec
	api.Register(r, cfg)
	e.h = r
	return e
}

// input is a verdict on a lockfile with a vulnerable lodash (and, with
// withSBOM, the SBOM listing it) and a redacted secret.
func input(t *testing.T, repo, kind, delivery string, withSBOM bool) evidence.Input {
	t.Helper()
	deps := &checks.Result{Check: checks.Dependencies, Engine: checks.Engine{Name: "trivy", Version: "v0.72.0"},
		Scope: checks.Scope{Files: 1, Inputs: []string{"package-lock.json"}},
		Findings: []checks.Finding{{Check: checks.Dependencies, RuleID: "CVE-2021-23337", Severity: checks.SeverityHigh, Title: "lodash: command injection",
			File: "package-lock.json", Fingerprint: "fp-lodash", Remediation: checks.Remediation{Package: "lodash", InstalledVersion: "4.17.20", FixedVersion: "4.17.21"}}}}
	if withSBOM {
		bom := cdx.NewBOM()
		bom.Components = &[]cdx.Component{{BOMRef: "pkg:npm/lodash@4.17.20", Type: cdx.ComponentTypeLibrary, Name: "lodash", Version: "4.17.20"}}
		var buf bytes.Buffer
		if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).Encode(bom); err != nil {
			t.Fatal(err)
		}
		deps.SBOM = buf.Bytes()
	}
	secrets := &checks.Result{Check: checks.Secrets, Engine: checks.Engine{Name: "gitleaks", Version: "v8.30.1"},
		Findings: []checks.Finding{{Check: checks.Secrets, RuleID: "aws-access-token", Severity: checks.SeverityHigh, Title: "AWS access token",
			File: "config.env", StartLine: 2, Match: "AKIA************MPLE", Fingerprint: "fp-secret"}}}
	pol := policy.Default()
	results := []*checks.Result{secrets, deps}
	return evidence.Input{
		Scan:     jobs.Scan{DeliveryID: delivery, Repo: repo, Kind: kind, HeadSHA: sha, PRNumber: 7, InstallationID: 1},
		Verdicts: policy.Evaluate(policy.Input{Policy: pol, Results: results, Now: time.Now()}), Results: results,
		PolicyCanonical: pol.Canonical(), PolicySources: []string{"default (built-in)"},
		Started: time.Now(), Finished: time.Now(),
	}
}

// get requests path with the Authorization header auth ("" for none).
func (e *env) get(t *testing.T, path, auth string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

func bearer(tok string) string { return "Bearer " + tok }
