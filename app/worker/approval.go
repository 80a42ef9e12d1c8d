package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// Approve handles an approving review of a pull request. The suppressions
// the change brings for its own findings (ignore-file lines, inline
// markers) wait for an approval by someone who may give it: a writer of the
// repository, or one of the policy's suppressions.approvers, never the
// author. Such an approval is recorded for exactly the set of suppressions
// the reviewed commit brings, and the pull request's head is decided
// again from its stored scan, without scanning; a later push that changes
// the set needs another approval. Any other approval changes nothing.
func (w *Worker) Approve(ctx context.Context, a jobs.Approval, complete Completer) error {
	log := w.cfg.Logger.With(slog.String("delivery", a.DeliveryID), slog.String("repo", a.Repo),
		slog.Int("pr", a.PRNumber), slog.String("reviewer", a.Reviewer))
	if a.Reviewer == "" || strings.EqualFold(a.Reviewer, a.Author) {
		log.Info("approval by the author: it cannot approve the change's own suppressions")
		return nil
	}
	reviewed, err := w.storedScan(ctx, a.Repo, a.CommitID)
	if err == nil && reviewed != nil && reviewed.Scan.Kind != jobs.ScanPullRequest {
		reviewed = nil // a push or merge group of the same commit: no pull request to decide
	}
	if err != nil || reviewed == nil {
		log.Info("approval of a commit gatehouse has not scanned: nothing to apply", slog.String("sha", a.CommitID))
		return err
	}
	gh, err := w.cfg.Clients.Installation(a.InstallationID)
	if err != nil {
		return err
	}
	pol, _, polErr := w.cfg.Policies.Load(ctx, gh, reviewed.Scan)
	if polErr != nil {
		var pe *policy.ParseError
		if errors.As(polErr, &pe) {
			log.Info("approval not applied: the policy cannot be read", slog.String("error", polErr.Error()))
			return nil
		}
		return fmt.Errorf("read the policy of %s: %w", a.Repo, polErr)
	}
	dec := verdict.Decide(verdict.Input{Scanned: reviewed.Scanned, Policy: pol, Now: w.cfg.Now()})
	if dec.FromChange == "" || pol.Suppressions().FromChange != policy.FromChangeApproval {
		log.Info("approval: the reviewed commit brings no suppression awaiting approval", slog.String("sha", a.CommitID))
		return nil
	}
	ok, why, err := w.mayApprove(ctx, gh, a, dec.Approvers)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("approval does not apply the change's suppressions", slog.String("why", why))
		return nil
	}
	if err := w.cfg.Store.PutApproval(ctx, a.Repo, a.PRNumber, verdict.Approval{By: a.Reviewer, Digest: dec.FromChange}, a.ReviewID); err != nil {
		return err
	}
	log.Info("suppressions from the change approved", slog.String("sha", a.CommitID), slog.String("why", why))
	// Decide the pull request's head again: the reviewed commit, or a
	// newer head whose scan is stored (if it is not yet, its scan applies
	// the approval when it ends).
	target := reviewed
	if head, err := w.cfg.Store.PullHead(ctx, a.Repo, a.PRNumber); err != nil {
		return err
	} else if head != "" && head != a.CommitID {
		if target, err = w.storedScan(ctx, a.Repo, head); err != nil || target == nil || target.Scan.Kind != jobs.ScanPullRequest {
			return err
		}
	}
	return w.decideAgain(ctx, log, gh, target, complete)
}

// decideAgain decides a stored scan again with the approvals recorded on
// its pull request and reports it: check runs, summary comment, evidence.
func (w *Worker) decideAgain(ctx context.Context, log *slog.Logger, gh *github.Client, st *storedScan, complete Completer) error {
	s := st.Scan
	start := w.cfg.Now()
	pol, _, polErr := w.cfg.Policies.Load(ctx, gh, s)
	var pe *policy.ParseError
	if polErr != nil && !errors.As(polErr, &pe) {
		return fmt.Errorf("read the policy of %s@%s: %w", s.Repo, s.HeadSHA, polErr)
	}
	approvals, err := w.approvals(ctx, s)
	if err != nil {
		return err
	}
	dec := verdict.Decide(verdict.Input{Scanned: st.Scanned, Policy: pol, PolicyErr: polErr, Approvals: approvals, Now: w.cfg.Now()})
	if err := w.report(ctx, w.checkRuns(gh, s), s, st.Scanned.Head, dec); err != nil {
		return err
	}
	if w.supersededBy(ctx, s) == "" {
		// Line comments stay as the scan placed them (they need the diff);
		// the summary comment says what changed.
		dec.Report.ReviewComments = false
		if err := w.review(ctx, gh, s, dec, nil); err != nil {
			return err
		}
	}
	if err := w.record(ctx, log, gh, s, st.Scanned.Head, dec, start, complete); err != nil {
		return err
	}
	log.Info("decided again on an approval", slog.String("sha", s.HeadSHA), slog.Any("conclusions", conclusions(dec.Verdicts)))
	return nil
}

// mayApprove says whether the reviewer may approve the change's own
// suppressions: one of approvers (a login, or a member of an org/team
// slug) when the policy names any, else anyone with write access.
func (w *Worker) mayApprove(ctx context.Context, gh *github.Client, a jobs.Approval, approvers []string) (bool, string, error) {
	owner, name, _ := strings.Cut(a.Repo, "/")
	if len(approvers) > 0 {
		for _, ap := range approvers {
			org, team, isTeam := strings.Cut(ap, "/")
			if !isTeam {
				if strings.EqualFold(ap, a.Reviewer) {
					return true, "listed in suppressions.approvers", nil
				}
				continue
			}
			m, resp, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, team, a.Reviewer)
			switch {
			case resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden):
				continue // not a member, or the app may not read the team (members: read)
			case err != nil:
				return false, "", fmt.Errorf("membership of %s in %s: %w", a.Reviewer, ap, err)
			case m.GetState() == "active":
				return true, "member of " + ap + " (suppressions.approvers)", nil
			}
		}
		return false, "not one of suppressions.approvers", nil
	}
	perm, _, err := gh.Repositories.GetPermissionLevel(ctx, owner, name, a.Reviewer)
	if err != nil {
		return false, "", fmt.Errorf("permission of %s on %s: %w", a.Reviewer, a.Repo, err)
	}
	if slices.Contains([]string{"admin", "maintain", "write"}, perm.GetPermission()) {
		return true, "write access (" + perm.GetPermission() + ")", nil
	}
	return false, "no write access (" + perm.GetPermission() + ")", nil
}

// storedScan reads the scan kept for a commit (nil when there is none).
func (w *Worker) storedScan(ctx context.Context, repo, sha string) (*storedScan, error) {
	if w.cfg.Store == nil || sha == "" {
		return nil, nil
	}
	b, err := w.cfg.Store.Scan(ctx, repo, sha)
	if err != nil || b == nil {
		return nil, err
	}
	var st storedScan
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("stored scan of %s@%s: %w", repo, sha, err)
	}
	return &st, nil
}
