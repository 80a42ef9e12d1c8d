package report

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/format"
)

// MaxSARIFGzip is GitHub's limit on an uploaded SARIF file, gzipped.
const MaxSARIFGzip = 10 << 20

// SARIFToolName is the tool name analyses are uploaded under.
const SARIFToolName = "gatehouse"

// SARIFTarget is the commit and ref code scanning files an analysis under.
type SARIFTarget struct {
	Repo      Repo
	CommitSHA string
	Ref       string // see SARIFRef
}

// SARIFRef is the ref an analysis belongs to: refs/pull/N/head for a pull
// request (prNumber > 0), else refs/heads/BRANCH for a push or a baseline
// of the default branch.
func SARIFRef(prNumber int, branch string) string {
	if prNumber > 0 {
		return fmt.Sprintf("refs/pull/%d/head", prNumber)
	}
	return "refs/heads/" + branch
}

// UploadSARIF uploads a commit's verdicts to GitHub code scanning (POST
// /repos/{owner}/{repo}/code-scanning/sarifs), so the findings also show in
// the repository's Security tab. The document is format.SARIF's: one run
// per check, each with automationDetails id "gatehouse/<check>/", so code
// scanning keeps one category per check and closes an alert when a later
// analysis of the same category no longer has it. It needs the
// installation's security_events: write permission, which policies ask
// for with report.sarif_upload. It returns the upload's id.
func UploadSARIF(ctx context.Context, gh *github.Client, t SARIFTarget, r *format.Report) (string, error) {
	enc, err := EncodeSARIF(r)
	if err != nil {
		return "", fmt.Errorf("upload SARIF to %s@%s: %w", t.Repo, t.CommitSHA, err)
	}
	id, _, err := gh.CodeScanning.UploadSarif(ctx, t.Repo.Owner, t.Repo.Name, &github.SarifAnalysis{
		CommitSHA: github.Ptr(t.CommitSHA), Ref: github.Ptr(t.Ref), Sarif: github.Ptr(enc), ToolName: github.Ptr(SARIFToolName),
	})
	if err != nil {
		return "", fmt.Errorf("upload SARIF to %s@%s: %w", t.Repo, t.CommitSHA, err)
	}
	return id.GetID(), nil
}

// EncodeSARIF renders r as SARIF 2.1.0, gzipped then base64-encoded, as
// the upload API takes it. Secret findings go without their message (the
// rule, location and redacted match say all there is): whatever a scanner
// put there must not reach the Security tab.
func EncodeSARIF(r *format.Report) (string, error) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if err := format.SARIF(zw, withoutSecretMessages(r)); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress SARIF: %w", err)
	}
	if gz.Len() > MaxSARIFGzip {
		return "", fmt.Errorf("SARIF is %d bytes gzipped, over GitHub's %d", gz.Len(), MaxSARIFGzip)
	}
	return base64.StdEncoding.EncodeToString(gz.Bytes()), nil
}

// withoutSecretMessages copies r with the messages of secret findings
// cleared; r is not changed.
func withoutSecretMessages(r *format.Report) *format.Report {
	if r == nil {
		return nil
	}
	out := *r
	clearF := func(check string, f *checks.Finding) {
		if check == checks.Secrets || f.Check == checks.Secrets {
			f.Message = ""
		}
	}
	clearS := func(check string, ss []checks.Suppressed) []checks.Suppressed {
		ss = slices.Clone(ss)
		for i := range ss {
			clearF(check, &ss[i].Finding)
		}
		return ss
	}
	out.Verdicts = slices.Clone(r.Verdicts)
	for i := range out.Verdicts {
		v := &out.Verdicts[i]
		v.Findings = slices.Clone(v.Findings)
		for j := range v.Findings {
			clearF(v.Check, &v.Findings[j].Finding)
		}
		v.Suppressed = clearS(v.Check, v.Suppressed)
	}
	out.Results = make([]*checks.Result, len(r.Results))
	for i, res := range r.Results {
		if res == nil {
			continue
		}
		c := *res
		c.Findings = slices.Clone(c.Findings)
		for j := range c.Findings {
			clearF(c.Check, &c.Findings[j])
		}
		c.Suppressed = clearS(c.Check, c.Suppressed)
		out.Results[i] = &c
	}
	return &out
}
