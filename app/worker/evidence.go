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
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/format"
)

// EvidenceRecorder keeps the evidence of each verdict
// (app/evidence.Recorder).
type EvidenceRecorder interface {
	Record(ctx context.Context, in evidence.Input) (string, error)
}

// record uploads the verdicts to code scanning when the policy asks, and
// writes the verdict's evidence. A failed upload is logged, not retried:
// it needs a permission installations may not grant.
func (w *Worker) record(ctx context.Context, log *slog.Logger, gh *github.Client, s jobs.Scan, head *checks.Response, dec *Decision, started time.Time) error {
	var results []*checks.Result
	if head != nil {
		results = head.Results
	}
	if dec.SarifUpload {
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
	if _, err := w.cfg.Evidence.Record(ctx, in); err != nil {
		return fmt.Errorf("evidence of %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	return nil
}
