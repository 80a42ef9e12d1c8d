package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/report"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/format"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// EvidenceRecorder keeps the evidence of each verdict
// (app/evidence.Recorder).
type EvidenceRecorder interface {
	ID(s jobs.Scan) string
	Record(ctx context.Context, in evidence.Input) (string, error)
	RecordTx(ctx context.Context, tx *store.Tx, in evidence.Input) (string, error)
}

// Completer runs fn and marks the job done in one transaction
// (queue.Job.CompleteTx): the evidence of a verdict commits with the job's
// completion, or neither does.
type Completer func(ctx context.Context, fn func(tx *store.Tx) error) error

// record uploads the verdicts to code scanning when the policy asks, and
// writes the verdict's evidence. A failed upload is logged, not retried:
// it needs a permission installations may not grant.
func (w *Worker) record(ctx context.Context, log *slog.Logger, gh *github.Client, s jobs.Scan, head *checks.Response, dec *verdict.Decision, started time.Time, complete Completer) error {
	var results []*checks.Result
	if head != nil {
		results = head.Results
	}
	if dec.Report.SarifUpload {
		owner, name, _ := strings.Cut(s.Repo, "/")
		branch := s.HeadRef
		if branch == "" {
			branch = s.DefaultBranch
		}
		r := &format.Report{Target: ".", Base: s.BaseSHA, Head: s.HeadSHA, ToolVersion: w.cfg.Version, Results: results,
			Verdicts: dec.Verdicts, PolicyHash: dec.PolicyHash, PolicySources: dec.PolicySources}
		t := report.SARIFTarget{Repo: report.Repo{Owner: owner, Name: name}, CommitSHA: s.HeadSHA, Ref: report.SARIFRef(s.PRNumber, branch)}
		if id, err := report.UploadSARIF(ctx, gh, t, r); err != nil {
			log.Warn("SARIF not uploaded to code scanning", slog.String("error", err.Error()))
		} else {
			log.Info("SARIF uploaded to code scanning", slog.String("upload", id), slog.String("ref", t.Ref))
		}
	}
	if w.cfg.Evidence == nil {
		return nil
	}
	in := evidence.Input{
		Scan: s, Verdicts: dec.Verdicts, Results: results, PolicyCanonical: dec.PolicyCanonical, PolicySources: dec.PolicySources,
		Version: w.cfg.Version, Started: started, Finished: w.cfg.Now(),
	}
	if w.cfg.DBUpdatedAt != nil {
		in.DBUpdatedAt = w.cfg.DBUpdatedAt()
	}
	var err error
	if complete != nil {
		err = complete(ctx, func(tx *store.Tx) error {
			_, err := w.cfg.Evidence.RecordTx(ctx, tx, in)
			return err
		})
	} else {
		_, err = w.cfg.Evidence.Record(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("evidence of %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	return nil
}
