package worker

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/verdict"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

type headStore struct{ head string }

func (h headStore) PullHead(context.Context, string, int) (string, error) { return h.head, nil }
func (headStore) PutScan(context.Context, string, string, []byte) error   { return nil }
func (headStore) Scan(context.Context, string, string) ([]byte, error)    { return nil, nil }
func (headStore) PutApproval(context.Context, string, int, verdict.Approval, int64) error {
	return nil
}
func (headStore) Approvals(context.Context, string, int) ([]verdict.Approval, error) { return nil, nil }

type noRunner struct{ calls int }

func (n *noRunner) Run(context.Context, checks.Request) (*checks.Response, error) {
	n.calls++
	return nil, errors.New("must not scan")
}

// A scan whose pull request has moved on is not run: its check runs are
// completed as cancelled, naming the newer head.
func TestSupersededScanIsCancelled(t *testing.T) {
	fake := githubtest.New(t)
	repo := fake.AddRepo("octo", "demo")
	repo.Commit("main", "init", map[string]string{"a.txt": "a\n"})
	old := repo.Commit("feature", "one", map[string]string{"b.txt": "b\n"})
	fake.AddInstallation(7, "octo", "octo/demo")
	urls, _ := ghclient.ParseURLs(fake.URL())
	f, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	gh, _ := f.Installation(7)
	names := []string{checks.Secrets, checks.IaC}
	scan := jobs.Scan{
		DeliveryID: "d", InstallationID: 7, Repo: "octo/demo", Kind: jobs.ScanPullRequest,
		HeadSHA: old, PRNumber: 1,
	}
	ids, err := report.QueueCheckRuns(context.Background(), gh, fake.AppID(), scan, names, "")
	if err != nil {
		t.Fatal(err)
	}
	runner := &noRunner{}
	w := New(Config{Clients: f, Pipeline: verdict.New(verdict.Config{Runner: runner}), Checks: names,
		Store: headStore{head: "ffffffffffffffffffffffffffffffffffffffff"}, Logger: slog.New(slog.DiscardHandler)})
	scan.CheckRuns = ids
	err = w.Scan(context.Background(), scan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if runner.calls != 0 {
		t.Errorf("a superseded scan ran %d times", runner.calls)
	}
	for _, r := range fake.CheckRuns("octo/demo") {
		if r.Status != "completed" || r.Conclusion != "cancelled" || r.Output.Title != "Superseded by a newer push (fffffff)" {
			t.Errorf("%s = %s/%s %q", r.Name, r.Status, r.Conclusion, r.Output.Title)
		}
	}
}
