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
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/events"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
)

// Delivery is a stored webhook delivery.
type Delivery struct {
	ID         string
	Event      string
	Payload    []byte
	ReceivedAt time.Time
}

// DeliverySource reads a stored delivery.
type DeliverySource interface {
	Delivery(ctx context.Context, id string) (Delivery, error)
}

// Clients makes GitHub clients (app/ghclient.Factory).
type Clients interface {
	Installation(id int64) (*github.Client, error)
	AppID() int64
	Forget(installationID int64)
}

// Enqueuer schedules a scan, at a time (zero: now), the decision on an
// approval, and the answer to a deployment protection rule.
type Enqueuer interface {
	EnqueueScan(ctx context.Context, args jobs.Scan, at time.Time) error
	EnqueueApproval(ctx context.Context, args jobs.Approval) error
	EnqueueDeployment(ctx context.Context, args jobs.Deployment) error
}

// Heads records the newest head of each pull request, so a scan of an older
// head knows it was superseded.
type Heads interface {
	SetPullHead(ctx context.Context, repo string, number int, head string, receivedAt time.Time) error
}

// Config wires a Planner.
type Config struct {
	Deliveries DeliverySource
	Clients    Clients
	Queue      Enqueuer
	Heads      Heads
	Checks     []string // check names, in order
	Logger     *slog.Logger
	// DetailsURL, when set, returns the details page of a scan.
	DetailsURL func(scan jobs.Scan) string
	// BaselinePace spaces the baseline scans of a new installation's
	// repositories, so a 500-repository org does not trip GitHub's
	// secondary rate limits (default 2s: 500 repositories in ~17 minutes).
	BaselinePace time.Duration
	Now          func() time.Time
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
	if cfg.BaselinePace == 0 {
		cfg.BaselinePace = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Planner{cfg: cfg}
}

// ErrIgnored marks a delivery that needs no work.
var ErrIgnored = errors.New("nothing to do")

// RescanCommand is the pull request comment that asks for a new verdict.
const RescanCommand = "/gatehouse rescan"

// Plan handles one stored delivery.
func (p *Planner) Plan(ctx context.Context, deliveryID string) error {
	d, err := p.cfg.Deliveries.Delivery(ctx, deliveryID)
	if err != nil {
		return fmt.Errorf("load delivery %s: %w", deliveryID, err)
	}
	log := p.cfg.Logger.With(slog.String("delivery", deliveryID), slog.String("event", d.Event))
	parsed, err := events.Decode(d.Event, d.Payload)
	if err != nil {
		log.Warn("delivery cannot be decoded", slog.String("error", err.Error()))
		return nil // retrying cannot help
	}
	var scans []jobs.Scan
	switch e := parsed.(type) {
	case *github.InstallationEvent:
		return p.installation(ctx, log, d, e)
	case *github.InstallationRepositoriesEvent:
		if e.GetAction() != "added" {
			return nil
		}
		return p.baselines(ctx, log, d, e.GetInstallation().GetID(), e.RepositoriesAdded)
	case *github.IssueCommentEvent:
		scan, err := p.rescanComment(ctx, log, e)
		if errors.Is(err, ErrIgnored) {
			return nil
		}
		if err != nil {
			return err
		}
		scans = append(scans, scan)
	case *github.PullRequestReviewEvent:
		a, err := Approval(e)
		if errors.Is(err, ErrIgnored) {
			return nil
		}
		a.DeliveryID = deliveryID
		if err := p.cfg.Queue.EnqueueApproval(ctx, a); err != nil {
			return fmt.Errorf("enqueue the approval of %s#%d: %w", a.Repo, a.PRNumber, err)
		}
		log.Info("approval planned", slog.String("repo", a.Repo), slog.Int("pr", a.PRNumber), slog.String("reviewer", a.Reviewer))
		return nil
	case *github.MergeGroupEvent:
		if e.GetAction() == "destroyed" {
			return p.destroyed(ctx, log, d, e)
		}
		scan, err := Decide(parsed)
		if errors.Is(err, ErrIgnored) {
			return nil
		}
		if err != nil {
			return err
		}
		runs, err := p.groupRuns(scan)
		if err != nil {
			return err
		}
		if gone, err := runs.Cancelled(ctx); err != nil {
			return err
		} else if gone {
			log.Info("merge group destroyed before it was planned", slog.String("repo", scan.Repo), slog.String("sha", scan.HeadSHA))
			return nil
		}
		scans = append(scans, scan)
	case *events.DeploymentGate:
		dep, err := Deployment(e)
		if errors.Is(err, ErrIgnored) {
			log.Info("deployment request names no commit or workflow run")
			return nil
		}
		dep.DeliveryID = deliveryID
		if err := p.cfg.Queue.EnqueueDeployment(ctx, dep); err != nil {
			return fmt.Errorf("enqueue the deployment of %s@%s to %s: %w", dep.Repo, dep.SHA, dep.Environment, err)
		}
		log.Info("deployment gate planned", slog.String("repo", dep.Repo), slog.String("sha", dep.SHA), slog.String("environment", dep.Environment))
		return nil
	default:
		scan, err := Decide(parsed)
		if errors.Is(err, ErrIgnored) {
			log.Info("delivery needs no scan")
			return nil
		}
		if err != nil {
			return fmt.Errorf("plan delivery %s: %w", deliveryID, err)
		}
		scans = append(scans, scan)
	}
	for _, scan := range scans {
		scan.DeliveryID = deliveryID
		if err := p.schedule(ctx, log, d, scan); err != nil {
			return err
		}
	}
	return nil
}

// schedule creates a scan's check runs (queued) and enqueues it.
func (p *Planner) schedule(ctx context.Context, log *slog.Logger, d Delivery, scan jobs.Scan) error {
	log = log.With(slog.String("repo", scan.Repo), slog.String("sha", scan.HeadSHA))
	if scan.Kind == jobs.ScanPullRequest && p.cfg.Heads != nil {
		if err := p.cfg.Heads.SetPullHead(ctx, scan.Repo, scan.PRNumber, scan.HeadSHA, d.ReceivedAt); err != nil {
			return err
		}
	}
	gh, err := p.cfg.Clients.Installation(scan.InstallationID)
	if err != nil {
		return err
	}
	details := ""
	if p.cfg.DetailsURL != nil {
		details = p.cfg.DetailsURL(scan)
	}
	ids, err := report.QueueCheckRuns(ctx, gh, p.cfg.Clients.AppID(), scan, p.cfg.Checks, details)
	if err != nil {
		return err
	}
	scan.CheckRuns = ids
	if err := p.cfg.Queue.EnqueueScan(ctx, scan, time.Time{}); err != nil {
		return fmt.Errorf("enqueue scan of %s@%s: %w", scan.Repo, scan.HeadSHA, err)
	}
	log.Info("scan planned", slog.String("kind", scan.Kind), slog.Int("pr", scan.PRNumber), slog.String("trigger", scan.Trigger))
	return nil
}

// installation handles an app being installed (baseline of every
// repository) or uninstalled (forget its tokens).
func (p *Planner) installation(ctx context.Context, log *slog.Logger, d Delivery, e *github.InstallationEvent) error {
	id := e.GetInstallation().GetID()
	switch e.GetAction() {
	case "deleted", "suspend":
		p.cfg.Clients.Forget(id)
		log.Info("installation removed: tokens forgotten", slog.Int64("installation", id))
		return nil
	case "created":
		repos := e.Repositories
		if len(repos) == 0 {
			gh, err := p.cfg.Clients.Installation(id)
			if err != nil {
				return err
			}
			opts := &github.ListOptions{PerPage: 100}
			for {
				list, resp, err := gh.Apps.ListRepos(ctx, opts)
				if err != nil {
					return fmt.Errorf("list repositories of installation %d: %w", id, err)
				}
				repos = append(repos, list.Repositories...)
				if resp.NextPage == 0 {
					break
				}
				opts.Page = resp.NextPage
			}
		}
		return p.baselines(ctx, log, d, id, repos)
	}
	return nil
}

// baselines enqueues a scan of each repository's default branch head,
// paced. The worker resolves the head and creates the check runs.
func (p *Planner) baselines(ctx context.Context, log *slog.Logger, d Delivery, installation int64, repos []*github.Repository) error {
	at := p.cfg.Now()
	for i, r := range repos {
		scan := jobs.Scan{
			DeliveryID: d.ID, InstallationID: installation, Repo: r.GetFullName(),
			Kind: jobs.ScanBaseline, DefaultBranch: r.GetDefaultBranch(), Trigger: "installation",
		}
		if err := p.cfg.Queue.EnqueueScan(ctx, scan, at.Add(time.Duration(i)*p.cfg.BaselinePace)); err != nil {
			return fmt.Errorf("enqueue baseline of %s: %w", r.GetFullName(), err)
		}
	}
	log.Info("baseline scans planned", slog.Int64("installation", installation), slog.Int("repositories", len(repos)))
	return nil
}

// rescanComment handles "/gatehouse rescan" on a pull request: only from a
// user with write access to the base repository; acknowledged with 👀.
func (p *Planner) rescanComment(ctx context.Context, log *slog.Logger, e *github.IssueCommentEvent) (jobs.Scan, error) {
	if e.GetAction() != "created" || !e.GetIssue().IsPullRequest() {
		return jobs.Scan{}, ErrIgnored
	}
	if strings.TrimSpace(e.GetComment().GetBody()) != RescanCommand {
		return jobs.Scan{}, ErrIgnored
	}
	user := e.GetComment().GetUser()
	if user.GetType() == "Bot" {
		return jobs.Scan{}, ErrIgnored
	}
	owner, name := e.GetRepo().GetOwner().GetLogin(), e.GetRepo().GetName()
	gh, err := p.cfg.Clients.Installation(e.GetInstallation().GetID())
	if err != nil {
		return jobs.Scan{}, err
	}
	perm, _, err := gh.Repositories.GetPermissionLevel(ctx, owner, name, user.GetLogin())
	if err != nil {
		return jobs.Scan{}, fmt.Errorf("permission of %s on %s/%s: %w", user.GetLogin(), owner, name, err)
	}
	switch perm.GetPermission() {
	case "admin", "maintain", "write":
	default:
		log.Info("rescan refused: no write access", slog.String("user", user.GetLogin()), slog.String("permission", perm.GetPermission()))
		return jobs.Scan{}, ErrIgnored
	}
	if _, _, err := gh.Reactions.CreateIssueCommentReaction(ctx, owner, name, e.GetComment().GetID(), "eyes"); err != nil {
		return jobs.Scan{}, fmt.Errorf("react to rescan comment: %w", err)
	}
	pr, _, err := gh.PullRequests.Get(ctx, owner, name, e.GetIssue().GetNumber())
	if err != nil {
		return jobs.Scan{}, fmt.Errorf("get pull request %s/%s#%d: %w", owner, name, e.GetIssue().GetNumber(), err)
	}
	if pr.GetState() != "open" {
		return jobs.Scan{}, ErrIgnored
	}
	return pullScan(e.GetInstallation().GetID(), e.GetRepo(), pr, "rescan by @"+user.GetLogin()), nil
}

func pullScan(installation int64, repo *github.Repository, pr *github.PullRequest, trigger string) jobs.Scan {
	return jobs.Scan{
		InstallationID: installation,
		Repo:           repo.GetFullName(),
		Kind:           jobs.ScanPullRequest,
		HeadSHA:        pr.GetHead().GetSHA(),
		HeadRef:        pr.GetHead().GetRef(),
		BaseSHA:        pr.GetBase().GetSHA(),
		BaseRef:        pr.GetBase().GetRef(),
		DefaultBranch:  repo.GetDefaultBranch(),
		PRNumber:       pr.GetNumber(),
		Trigger:        trigger,
	}
}

// Decide says what to scan for a decoded event (events.Decode). It is
// pure: no GitHub.
func Decide(parsed any) (jobs.Scan, error) {
	switch e := parsed.(type) {
	case *events.Rerun:
		if !events.Wants(e.Event, e.Action) || e.Repo == nil {
			return jobs.Scan{}, ErrIgnored
		}
		switch {
		case e.Run != nil:
			return rerun(e.Installation.ID, e.Repo, e.Run.HeadSHA, e.Run.PullRequests, e.Sender), nil
		case e.Suite != nil:
			return rerun(e.Installation.ID, e.Repo, e.Suite.HeadSHA, e.Suite.PullRequests, e.Sender), nil
		}
		return jobs.Scan{}, ErrIgnored

	case *github.PullRequestEvent:
		pr := e.GetPullRequest()
		if !events.Wants("pull_request", e.GetAction()) || pr.GetState() == "closed" {
			return jobs.Scan{}, ErrIgnored
		}
		return pullScan(e.GetInstallation().GetID(), e.GetRepo(), pr, "pull_request."+e.GetAction()), nil

	case *github.MergeGroupEvent:
		g := e.GetMergeGroup()
		if e.GetAction() != "checks_requested" || g.GetHeadSHA() == "" {
			return jobs.Scan{}, ErrIgnored
		}
		return jobs.Scan{
			InstallationID: e.GetInstallation().GetID(),
			Repo:           e.GetRepo().GetFullName(),
			Kind:           jobs.ScanMergeGroup,
			HeadSHA:        g.GetHeadSHA(),
			HeadRef:        strings.TrimPrefix(g.GetHeadRef(), "refs/heads/"),
			BaseSHA:        g.GetBaseSHA(),
			BaseRef:        strings.TrimPrefix(g.GetBaseRef(), "refs/heads/"),
			DefaultBranch:  e.GetRepo().GetDefaultBranch(),
			Trigger:        "merge_group.checks_requested",
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

// Deployment reads a deployment protection rule request. It is pure.
func Deployment(e *events.DeploymentGate) (jobs.Deployment, error) {
	if !events.Wants("deployment_protection_rule", e.Action) || e.Commit() == "" || e.RunID() == 0 || e.Repo == nil {
		return jobs.Deployment{}, ErrIgnored
	}
	d := jobs.Deployment{
		InstallationID: e.Installation.ID, Repo: e.Repo.GetFullName(), Environment: e.Environment,
		SHA: e.Commit(), Ref: e.Ref, DefaultBranch: e.Repo.GetDefaultBranch(), RunID: e.RunID(),
	}
	if e.Deployment != nil {
		d.DeploymentID = e.Deployment.ID
	}
	return d, nil
}

// destroyed cancels what is left of a merge group that left the queue
// (merged, invalidated or dequeued): its check runs that are not yet
// completed are completed as cancelled, and its scan, when it starts,
// finds them so and stops. When the group has no check runs yet (this
// delivery is planned before its checks_requested), they are created
// cancelled, so the checks_requested that follows plans nothing.
func (p *Planner) destroyed(ctx context.Context, log *slog.Logger, d Delivery, e *github.MergeGroupEvent) error {
	g := e.GetMergeGroup()
	if g.GetHeadSHA() == "" || e.GetRepo() == nil {
		return nil
	}
	scan := jobs.Scan{
		DeliveryID: d.ID, InstallationID: e.GetInstallation().GetID(), Repo: e.GetRepo().GetFullName(), Kind: jobs.ScanMergeGroup,
		HeadSHA: g.GetHeadSHA(), HeadRef: strings.TrimPrefix(g.GetHeadRef(), "refs/heads/"), BaseSHA: g.GetBaseSHA(),
	}
	reason := e.GetReason()
	if reason == "" {
		reason = "destroyed"
	}
	title := "Merge group " + reason + " before its scan completed"
	summary := fmt.Sprintf("The merge queue destroyed this group (`%s`, reason: %s); gatehouse stopped its scan. A new group gets its own check runs.",
		scan.HeadRef, reason)
	runs, err := p.groupRuns(scan)
	if err != nil {
		return err
	}
	n, err := runs.CancelPending(ctx, title, summary, p.cfg.Now())
	if err != nil {
		return err
	}
	if n == 0 {
		gone, err := runs.Cancelled(ctx)
		if err != nil {
			return err
		}
		if !gone {
			if _, err := report.QueueCheckRuns(ctx, runs.GH, p.cfg.Clients.AppID(), scan, p.cfg.Checks, ""); err != nil {
				return err
			}
			if n, err = runs.CancelPending(ctx, title, summary, p.cfg.Now()); err != nil {
				return err
			}
		}
	}
	log.Info("merge group destroyed: pending check runs cancelled", slog.String("repo", scan.Repo),
		slog.String("sha", scan.HeadSHA), slog.String("reason", reason), slog.Int("cancelled", n))
	return nil
}

// groupRuns is the check runs of a merge group's commit.
func (p *Planner) groupRuns(s jobs.Scan) (*report.CheckRuns, error) {
	gh, err := p.cfg.Clients.Installation(s.InstallationID)
	if err != nil {
		return nil, err
	}
	owner, name, _ := strings.Cut(s.Repo, "/")
	return &report.CheckRuns{GH: gh, Repo: report.Repo{Owner: owner, Name: name}, HeadSHA: s.HeadSHA, AppID: p.cfg.Clients.AppID()}, nil
}

// Approval reads an approving review of an open pull request. Whether the
// reviewer may approve is the worker's to check (it needs GitHub).
func Approval(e *github.PullRequestReviewEvent) (jobs.Approval, error) {
	pr := e.GetPullRequest()
	if !events.Wants("pull_request_review", e.GetAction()) || !strings.EqualFold(e.GetReview().GetState(), "approved") || pr.GetState() != "open" {
		return jobs.Approval{}, ErrIgnored
	}
	return jobs.Approval{
		InstallationID: e.GetInstallation().GetID(), Repo: e.GetRepo().GetFullName(), PRNumber: pr.GetNumber(),
		Author: pr.GetUser().GetLogin(), Reviewer: e.GetReview().GetUser().GetLogin(), ReviewID: e.GetReview().GetID(),
		CommitID: e.GetReview().GetCommitID(),
	}, nil
}

// rerun plans the Re-run button: the same head, as part of its pull
// request when GitHub names one, else the head alone.
func rerun(installation int64, repo *github.Repository, head string, prs []*github.PullRequest, sender *github.User) jobs.Scan {
	trigger := "re-run by @" + sender.GetLogin()
	for _, pr := range prs {
		if pr.GetHead().GetSHA() == head {
			s := pullScan(installation, repo, pr, trigger)
			s.DefaultBranch = repo.GetDefaultBranch()
			return s
		}
	}
	return jobs.Scan{
		InstallationID: installation, Repo: repo.GetFullName(), Kind: jobs.ScanPush,
		HeadSHA: head, DefaultBranch: repo.GetDefaultBranch(), Trigger: trigger,
	}
}

func isZero(sha string) bool {
	return sha == "" || strings.Trim(sha, "0") == ""
}
