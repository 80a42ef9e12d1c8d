package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/verdict"
	"github.com/gatehouse/gatehouse/templates"
)

// Deploy answers a deployment protection rule request: the deployed
// commit's stored scan, decided again under the policy with the
// environment's overlay (environments.<name>), without scanning. A commit
// gatehouse never scanned is scanned first (as a push of its branch, with
// no check runs). The policy is read from the default branch. The answer
// (approved, or rejected with what blocks) goes to the workflow run, and
// the decision is recorded as evidence of kind deployment.
func (w *Worker) Deploy(ctx context.Context, d jobs.Deployment, complete Completer) error {
	log := w.cfg.Logger.With(slog.String("delivery", d.DeliveryID), slog.String("repo", d.Repo), slog.String("sha", d.SHA),
		slog.String("environment", d.Environment), slog.Int64("run", d.RunID))
	start := w.cfg.Now()
	gh, err := w.cfg.Clients.Installation(d.InstallationID)
	if err != nil {
		return err
	}
	st, err := w.storedScan(ctx, d.Repo, d.SHA)
	if err != nil {
		return err
	}
	scannedNow := false
	if st == nil {
		log.Info("deployment of a commit without a verdict: scanning it first")
		s := jobs.Scan{
			DeliveryID: d.DeliveryID, InstallationID: d.InstallationID, Repo: d.Repo, Kind: jobs.ScanPush,
			HeadSHA: d.SHA, HeadRef: strings.TrimPrefix(d.Ref, "refs/heads/"), DefaultBranch: d.DefaultBranch,
			Trigger: "deployment to " + d.Environment,
		}
		if strings.HasPrefix(d.Ref, "refs/tags/") {
			s.HeadRef = ""
		}
		if err := w.Scan(ctx, s, nil); err != nil {
			return err
		}
		if st, err = w.storedScan(ctx, d.Repo, d.SHA); err != nil {
			return err
		}
		if st == nil {
			return fmt.Errorf("deployment of %s@%s: the scan made for it was not kept", d.Repo, d.SHA)
		}
		scannedNow = true
	}
	pol, _, polErr := w.cfg.Policies.Load(ctx, gh, jobs.Scan{Repo: d.Repo, Kind: jobs.ScanPush, HeadSHA: d.SHA, DefaultBranch: d.DefaultBranch})
	var pe *policy.ParseError
	if polErr != nil && !errors.As(polErr, &pe) {
		return fmt.Errorf("read the policy of %s: %w", d.Repo, polErr) // GitHub unreachable: retry
	}
	overlay := false
	if pol != nil {
		pol, overlay = pol.Environment(d.Environment)
	}
	approvals, err := w.approvals(ctx, st.Scan)
	if err != nil {
		return err
	}
	dec := verdict.Decide(verdict.Input{Scanned: st.Scanned, Policy: pol, PolicyErr: polErr, Approvals: approvals, Now: w.cfg.Now()})
	state := report.DeploymentApproved
	if evidence.Overall(dec.Verdicts) == string(checks.ConclusionFailure) {
		state = report.DeploymentRejected
	}
	es := deploymentScan(d, st.Scan)
	data := templates.DeploymentData{
		Approved: state == report.DeploymentApproved, Environment: d.Environment, SHA: d.SHA, Overlay: overlay,
		PolicyHash: dec.PolicyHash, Verdicts: dec.Verdicts, Scanned: scannedNow,
	}
	if w.cfg.Evidence != nil {
		data.EvidenceID = w.cfg.Evidence.ID(es)
	}
	if w.cfg.DetailsURL != nil {
		data.DetailsURL = w.cfg.DetailsURL(es)
	}
	comment, err := templates.Deployment(data)
	if err != nil {
		return err
	}
	owner, name, _ := strings.Cut(d.Repo, "/")
	if err := report.AnswerDeployment(ctx, gh, report.Repo{Owner: owner, Name: name}, d.RunID, d.Environment, state, comment); err != nil {
		return err
	}
	log.Info("deployment answered", slog.String("state", state), slog.Bool("overlay", overlay), slog.Bool("scanned_now", scannedNow),
		slog.String("from", st.Scan.Kind), slog.Any("conclusions", conclusions(dec.Verdicts)))
	if w.cfg.Evidence == nil {
		return nil
	}
	in := evidence.Input{
		Scan: es, Verdicts: dec.Verdicts, Results: st.Scanned.Head.Results, PolicyCanonical: dec.PolicyCanonical, PolicySources: dec.PolicySources,
		Version: w.cfg.Version, Started: start, Finished: w.cfg.Now(),
		Deployment: &evidence.Deployment{
			Environment: d.Environment, WorkflowRun: d.RunID, DeploymentID: d.DeploymentID, State: state, Overlay: overlay,
			FromKind: st.Scan.Kind, FromDelivery: st.Scan.DeliveryID,
		},
	}
	if w.cfg.DBUpdatedAt != nil {
		in.DBUpdatedAt = w.cfg.DBUpdatedAt()
	}
	if complete != nil {
		err = complete(ctx, func(tx *store.Tx) error {
			_, err := w.cfg.Evidence.RecordTx(ctx, tx, in)
			return err
		})
	} else {
		_, err = w.cfg.Evidence.Record(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("evidence of the deployment of %s@%s to %s: %w", d.Repo, d.SHA, d.Environment, err)
	}
	return nil
}

// deploymentScan is what the deployment's evidence record is keyed and
// described by: the commit, as the judged scan saw it.
func deploymentScan(d jobs.Deployment, judged jobs.Scan) jobs.Scan {
	return jobs.Scan{
		DeliveryID: d.DeliveryID, InstallationID: d.InstallationID, Repo: d.Repo, Kind: jobs.KindDeployment,
		HeadSHA: d.SHA, HeadRef: strings.TrimPrefix(d.Ref, "refs/heads/"), BaseSHA: judged.BaseSHA, BaseRef: judged.BaseRef,
		DefaultBranch: d.DefaultBranch, PRNumber: judged.PRNumber,
		Trigger: fmt.Sprintf("deployment to %s (workflow run %d)", d.Environment, d.RunID),
	}
}

// FailDeployment rejects a deployment whose decision will not be retried
// again, with the reason, so the workflow run does not wait for the
// rule's timeout.
func (w *Worker) FailDeployment(ctx context.Context, d jobs.Deployment, cause error) error {
	gh, err := w.cfg.Clients.Installation(d.InstallationID)
	if err != nil {
		return err
	}
	owner, name, _ := strings.Cut(d.Repo, "/")
	comment := fmt.Sprintf("⛔ gatehouse could not decide on `%s` for `%s` after several attempts, so it rejects the deployment.\n\nLast error: `%s`\n\nRe-run the workflow to ask again.",
		short(d.SHA), d.Environment, oneLine(cause.Error()))
	return report.AnswerDeployment(ctx, gh, report.Repo{Owner: owner, Name: name}, d.RunID, d.Environment, report.DeploymentRejected, comment)
}
