package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/verdict"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// scanStore keeps scans in memory.
type scanStore struct {
	headStore
	scans map[string][]byte
}

func (s scanStore) Scan(_ context.Context, repo, sha string) ([]byte, error) {
	return s.scans[repo+"@"+sha], nil
}

// fixedPolicy is a Policies that always answers the same.
type fixedPolicy struct {
	pol *policy.Policy
	err error
}

func (f fixedPolicy) Load(context.Context, *github.Client, jobs.Scan) (*policy.Policy, []checks.CustomCheck, error) {
	return f.pol, nil, f.err
}

// A deployment is decided from the commit's stored scan, without
// scanning: the environment's overlay applies, and a policy that cannot
// be read rejects (never a fallback to approving).
func TestDeployDecidesFromTheStoredScan(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	sha := repo.Commit("main", "init", map[string]string{"a.txt": "a\n"})
	fake.AddInstallation(7, "octo", "octo/demo")
	urls, _ := ghclient.ParseURLs(fake.URL())
	f, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// An existing high finding: it does not block the branch.
	vuln := checks.Finding{Check: checks.Dependencies, RuleID: "CVE-2019-10744", Severity: checks.SeverityCritical, Title: "lodash prototype pollution",
		File: "package-lock.json", Fingerprint: "fp", Remediation: checks.Remediation{Package: "lodash", InstalledVersion: "4.17.11", FixedVersion: "4.17.12"}}
	res := func() *checks.Response {
		return &checks.Response{Results: []*checks.Result{{Check: checks.Dependencies, Findings: []checks.Finding{vuln}}}}
	}
	stored, _ := json.Marshal(storedScan{
		Scan:    jobs.Scan{DeliveryID: "push-1", Repo: "octo/demo", Kind: jobs.ScanPush, HeadSHA: sha},
		Scanned: &verdict.Scanned{Checks: []string{checks.Dependencies}, Head: res(), Base: res()},
	})
	file, err := policy.Parse("octo/demo:.github/gatehouse.yml", []byte("version: 1\nenvironments:\n  production: {new_findings_only: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.Resolve(policy.Layer{Source: policy.SourceRepo, File: file})
	runner := &noRunner{}
	for i, tc := range []struct {
		env      string
		policies Policies
		state    string
		says     string
	}{
		{"staging", fixedPolicy{pol: pol}, "approved", "no check blocks it"},
		{"production", fixedPolicy{pol: pol}, "rejected", "lodash 4.17.11 → 4.17.12"},
		{"staging", fixedPolicy{err: &policy.ParseError{File: ".github/gatehouse.yml", Line: 2, Msg: "unknown key"}}, "rejected", "Policy file error"},
	} {
		run := int64(100 + i)
		fake.RequestDeployment("octo/demo", run, tc.env)
		w := New(Config{Clients: f, Pipeline: verdict.New(verdict.Config{Runner: runner}), Checks: []string{checks.Dependencies},
			Store: scanStore{scans: map[string][]byte{"octo/demo@" + sha: stored}}, Policies: tc.policies, Logger: slog.New(slog.DiscardHandler)})
		d := jobs.Deployment{DeliveryID: "dep", InstallationID: 7, Repo: "octo/demo", Environment: tc.env, SHA: sha, Ref: "refs/heads/main", DefaultBranch: "main", RunID: run}
		if err := w.Deploy(context.Background(), d, nil); err != nil {
			t.Fatal(err)
		}
		answers := fake.DeploymentAnswers("octo/demo")
		a := answers[len(answers)-1]
		if a.RunID != run || a.State != tc.state || !strings.Contains(a.Comment, tc.says) {
			t.Errorf("%s (case %d): %s, want %s saying %q:\n%s", tc.env, i, a.State, tc.state, tc.says, a.Comment)
		}
	}
	if runner.calls != 0 {
		t.Errorf("deciding from a stored scan ran the scanner %d times", runner.calls)
	}
}

// A deployment whose decision failed for good is rejected with the
// error, so the workflow run does not wait for the rule's timeout.
func TestFailDeploymentRejects(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	sha := repo.Commit("main", "init", map[string]string{"a.txt": "a\n"})
	fake.AddInstallation(7, "octo", "octo/demo")
	urls, _ := ghclient.ParseURLs(fake.URL())
	f, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fake.RequestDeployment("octo/demo", 9, "production")
	w := New(Config{Clients: f, Logger: slog.New(slog.DiscardHandler)})
	d := jobs.Deployment{DeliveryID: "dep", InstallationID: 7, Repo: "octo/demo", Environment: "production", SHA: sha, RunID: 9}
	if err := w.FailDeployment(context.Background(), d, errors.New("fetch octo/demo: 502\nBad Gateway")); err != nil {
		t.Fatal(err)
	}
	a := fake.DeploymentAnswers("octo/demo")
	if len(a) != 1 || a[0].State != "rejected" || !strings.Contains(a[0].Comment, "Last error: `fetch octo/demo: 502 Bad Gateway`") {
		t.Errorf("answers = %+v", a)
	}
}
