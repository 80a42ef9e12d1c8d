// Package planner turns a stored webhook delivery into work: which commit to
// scan, against what, with which check runs. It creates the check runs as
// queued straight away (users see them within a second) and enqueues the
// scan; the slow work happens in the worker.
package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
)

// DeliverySource reads a stored delivery.
type DeliverySource interface {
	Delivery(ctx context.Context, id string) (event string, payload []byte, err error)
}

// Clients makes GitHub clients (app/ghclient.Factory).
type Clients interface {
	Installation(id int64) (*github.Client, error)
	AppID() int64
}

// Enqueuer schedules a job.
type Enqueuer interface {
	EnqueueScan(ctx context.Context, args jobs.Scan) error
}

// Config wires a Planner.
type Config struct {
	Deliveries DeliverySource
	Clients    Clients
	Queue      Enqueuer
	Checks     []string // check names, in order
	Logger     *slog.Logger
	// DetailsURL, when set, returns the details page of a scan.
	DetailsURL func(deliveryID string) string
}

// Planner handles KindDelivery jobs.
type Planner struct {
	cfg Config
}

// New builds a Planner.
func New(cfg Config) *Planner {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Planner{cfg: cfg}
}

// ErrIgnored marks a delivery that needs no work.
var ErrIgnored = errors.New("nothing to do")

// Plan handles one stored delivery.
func (p *Planner) Plan(ctx context.Context, deliveryID string) error {
	event, payload, err := p.cfg.Deliveries.Delivery(ctx, deliveryID)
	if err != nil {
		return fmt.Errorf("load delivery %s: %w", deliveryID, err)
	}
	log := p.cfg.Logger.With(slog.String("delivery", deliveryID), slog.String("event", event))
	scan, err := Decide(event, payload)
	if errors.Is(err, ErrIgnored) {
		log.Info("delivery needs no scan")
		return nil
	}
	if err != nil {
		return fmt.Errorf("plan delivery %s: %w", deliveryID, err)
	}
	scan.DeliveryID = deliveryID
	log = log.With(slog.String("repo", scan.Repo), slog.String("sha", scan.HeadSHA))
	gh, err := p.cfg.Clients.Installation(scan.InstallationID)
	if err != nil {
		return err
	}
	owner, name, _ := strings.Cut(scan.Repo, "/")
	runs := &report.CheckRuns{GH: gh, Repo: report.Repo{Owner: owner, Name: name}, HeadSHA: scan.HeadSHA, AppID: p.cfg.Clients.AppID()}
	details := ""
	if p.cfg.DetailsURL != nil {
		details = p.cfg.DetailsURL(deliveryID)
	}
	ids, err := runs.Ensure(ctx, p.cfg.Checks, func(check string) string { return ExternalID(deliveryID, check) }, details)
	if err != nil {
		return err
	}
	scan.CheckRuns = ids
	if err := p.cfg.Queue.EnqueueScan(ctx, scan); err != nil {
		return fmt.Errorf("enqueue scan of %s@%s: %w", scan.Repo, scan.HeadSHA, err)
	}
	log.Info("scan planned", slog.String("kind", scan.Kind), slog.Int("pr", scan.PRNumber))
	return nil
}

// ExternalID ties a check run to the delivery that asked for it, so a
// retried job finds its own runs.
func ExternalID(deliveryID, check string) string {
	return "gatehouse:" + deliveryID + ":" + check
}

// Decide reads an event and says what to scan. It is pure: no GitHub.
func Decide(event string, payload []byte) (jobs.Scan, error) {
	parsed, err := github.ParseWebHook(event, payload)
	if err != nil {
		return jobs.Scan{}, fmt.Errorf("decode %s payload: %w", event, err)
	}
	switch e := parsed.(type) {
	case *github.PullRequestEvent:
		switch e.GetAction() {
		case "opened", "synchronize", "reopened", "ready_for_review":
		default:
			return jobs.Scan{}, ErrIgnored
		}
		pr := e.GetPullRequest()
		if pr.GetState() == "closed" {
			return jobs.Scan{}, ErrIgnored
		}
		return jobs.Scan{
			InstallationID: e.GetInstallation().GetID(),
			Repo:           e.GetRepo().GetFullName(),
			Kind:           jobs.ScanPullRequest,
			HeadSHA:        pr.GetHead().GetSHA(),
			HeadRef:        pr.GetHead().GetRef(),
			BaseSHA:        pr.GetBase().GetSHA(),
			BaseRef:        pr.GetBase().GetRef(),
			DefaultBranch:  e.GetRepo().GetDefaultBranch(),
			PRNumber:       pr.GetNumber(),
			Trigger:        "pull_request." + e.GetAction(),
		}, nil
	case *github.PushEvent:
		if e.GetDeleted() || isZero(e.GetAfter()) || !strings.HasPrefix(e.GetRef(), "refs/heads/") {
			return jobs.Scan{}, ErrIgnored
		}
		base := e.GetBefore()
		if isZero(base) {
			base = "" // a new branch
		}
		return jobs.Scan{
			InstallationID: e.GetInstallation().GetID(),
			Repo:           e.GetRepo().GetFullName(),
			Kind:           jobs.ScanPush,
			HeadSHA:        e.GetAfter(),
			HeadRef:        strings.TrimPrefix(e.GetRef(), "refs/heads/"),
			BaseSHA:        base,
			DefaultBranch:  e.GetRepo().GetDefaultBranch(),
			Trigger:        "push",
		}, nil
	}
	return jobs.Scan{}, ErrIgnored
}

func isZero(sha string) bool {
	return sha == "" || strings.Trim(sha, "0") == ""
}
