// Package policysource resolves the policy a scan is judged by — built-in
// defaults < the server file < the org's .github repository < the repo's own
// file — reading each from GitHub at the right commit (never the pull
// request's head), and evaluates the scan's results with it.
package policysource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/worker"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// Path is where policy files live in a repository.
const Path = ".github/gatehouse.yml"

// OrgRepo is the org-wide settings repository.
const OrgRepo = ".github"

// Source resolves and applies policy (worker.Decider).
type Source struct {
	Server *policy.File // the server-wide file, or nil
	Now    func() time.Time
}

var _ worker.Decider = (*Source)(nil)

// prepared is what Prepare resolved: the policy, or why it could not be
// read.
type prepared struct {
	pol *policy.Policy
	err error
}

// Prepare resolves the policy before the scan and reads the custom checks
// the scan runs, unless the policy turns them off (checks.custom.mode:
// off). A policy that cannot be read is not an error here: Decide fails
// every check with it. An error means GitHub could not be read (retry).
func (s *Source) Prepare(ctx context.Context, gh *github.Client, scan jobs.Scan) (*worker.Prepared, error) {
	pol, err := s.Resolve(ctx, gh, scan)
	if err != nil {
		if !isPolicyError(err) {
			return nil, err // GitHub unreachable: retry the job
		}
		return &worker.Prepared{State: prepared{err: err}}, nil
	}
	out := &worker.Prepared{State: prepared{pol: pol}}
	if cp, _ := pol.Check(policy.Custom); cp.Mode != policy.ModeOff {
		if out.Custom, err = customChecks(ctx, gh, scan); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decide evaluates the scan's results with the policy Prepare resolved
// (or resolves it, when the scan was not prepared). A policy file that
// cannot be read or parsed fails every check with the file, line and
// problem: it never falls back to a weaker policy.
func (s *Source) Decide(ctx context.Context, in worker.DecideInput) (*worker.Decision, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var pol *policy.Policy
	var err error
	if p, ok := in.Prepared.GetState().(prepared); ok {
		pol, err = p.pol, p.err
	} else {
		pol, err = s.Resolve(ctx, in.GH, in.Scan)
	}
	if err != nil {
		if !isPolicyError(err) {
			return nil, err // GitHub unreachable: retry the job
		}
		return &worker.Decision{Verdicts: policyFailure(in.Checks, err)}, nil
	}
	errs := map[string]error{}
	var results []*checks.Result
	if in.Head != nil {
		results = in.Head.Results
		for c, msg := range in.Head.Errors {
			errs[c] = errors.New(msg)
		}
	}
	for _, c := range in.Checks {
		if _, ok := errs[c]; !ok && (in.Head == nil || in.Head.Result(c) == nil) {
			errs[c] = errors.New("the scan returned no result")
		}
	}
	var base policy.Base
	if in.Base != nil {
		// Secrets are compared by commit range, not by tree: the base
		// holds no secrets results, so every secret in the range is new.
		base = policy.BaseOf(in.Base.Results...)
	}
	verdicts := policy.Evaluate(policy.Input{Policy: pol, Results: results, Base: base, Errors: errs, Now: now()})
	failOnLimits(verdicts, results, pol)
	if slices.Contains(in.ChangedFiles, Path) {
		for i := range verdicts {
			verdicts[i].Notes = append(verdicts[i].Notes, "This pull request changes "+Path+": the change takes effect after merge. Policy is always read from the base branch, so a pull request cannot change the rules it is judged by.")
		}
	}
	if changed := changedChecks(in.ChangedFiles); len(changed) > 0 {
		for i := range verdicts {
			if verdicts[i].Check == checks.IaC {
				verdicts[i].Notes = append(verdicts[i].Notes, "This pull request changes custom checks ("+strings.Join(changed, ", ")+"): the change takes effect after merge. Custom checks are read from the base branch, so a pull request cannot add, change or remove the checks it is judged by.")
			}
		}
	}
	var sources []string
	for _, f := range pol.Sources() {
		sources = append(sources, fmt.Sprintf("%s (%s)", f.Source, f.Name))
	}
	rep := pol.Report()
	return &worker.Decision{
		Verdicts: verdicts, PolicyHash: pol.ShortHash(), PolicySources: sources, PolicyCanonical: pol.Canonical(),
		ReviewComments: rep.ReviewComments, ReviewEvent: rep.ReviewEvent, SummaryComment: rep.SummaryComment,
		SarifUpload: rep.SarifUpload,
	}, nil
}

var errPolicy = errors.New("policy")

// isPolicyError reports whether err is about the policy file itself (it
// does not parse, is too large, is a directory), which fails the checks,
// rather than about reading it (which retries the job).
func isPolicyError(err error) bool {
	var pe *policy.ParseError
	return errors.As(err, &pe) || errors.Is(err, errPolicy)
}

// Resolve reads the org and repo files for a scan and merges them over the
// defaults and the server file.
func (s *Source) Resolve(ctx context.Context, gh *github.Client, scan jobs.Scan) (*policy.Policy, error) {
	owner, repo, _ := strings.Cut(scan.Repo, "/")
	var layers []policy.Layer
	if s.Server != nil {
		layers = append(layers, policy.Layer{Source: policy.SourceServer, File: s.Server})
	}
	if repo != OrgRepo {
		org, err := fetch(ctx, gh, owner, OrgRepo, "", owner+"/"+OrgRepo+":"+Path)
		if err != nil {
			return nil, err
		}
		layers = append(layers, policy.Layer{Source: policy.SourceOrg, File: org})
	}
	// The repo file comes from the base of a pull request, or the default
	// branch for a push: never from the change being judged.
	rf, err := fetch(ctx, gh, owner, repo, policyRef(scan), Path)
	if err != nil {
		return nil, err
	}
	layers = append(layers, policy.Layer{Source: policy.SourceRepo, File: rf})
	return policy.Resolve(layers...)
}

// fetch reads and parses a policy file; a missing file is nil, nil.
func fetch(ctx context.Context, gh *github.Client, owner, repo, ref, name string) (*policy.File, error) {
	var opts *github.RepositoryContentGetOptions
	if ref != "" {
		opts = &github.RepositoryContentGetOptions{Ref: ref}
	}
	fc, _, resp, err := gh.Repositories.GetContents(ctx, owner, repo, Path, opts)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from %s/%s: %w", Path, owner, repo, err)
	}
	if fc == nil {
		return nil, fmt.Errorf("%w: %s is a directory, want a file", errPolicy, name)
	}
	if fc.GetSize() > policy.MaxFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, larger than the %d allowed", errPolicy, name, fc.GetSize(), policy.MaxFileSize)
	}
	content, err := fc.GetContent()
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", errPolicy, name, err)
	}
	return policy.Parse(name, []byte(content))
}

// policyFailure fails every check because the policy could not be read.
func policyFailure(names []string, err error) []checks.Verdict {
	var out []checks.Verdict
	title := "Policy file error: " + err.Error()
	if len(title) > 200 {
		title = title[:197] + "..."
	}
	for _, c := range names {
		out = append(out, checks.Verdict{
			Check: c, Mode: string(policy.ModeBlock), Conclusion: checks.ConclusionFailure,
			Title: title, Error: "the policy could not be read, so nothing was judged: " + err.Error() + ". Fix the file; gatehouse never falls back to a weaker policy.",
		})
	}
	return out
}

// failOnLimits fails a blocking check that could not read everything
// because a hostile or huge repository hit a sandbox limit ("limit: …" in
// its skipped files): a limit hit is never a silent pass. With on_error:
// neutral the policy chose otherwise, and the verdict only says so.
func failOnLimits(verdicts []checks.Verdict, results []*checks.Result, pol *policy.Policy) {
	for i := range verdicts {
		v := &verdicts[i]
		var hit []string
		for _, r := range results {
			if r.Check != v.Check {
				continue
			}
			for _, sk := range r.Scope.Skipped {
				if strings.HasPrefix(sk.Reason, "limit:") {
					hit = append(hit, sk.Path+" ("+sk.Reason+")")
				}
			}
		}
		if len(hit) == 0 || v.Mode != string(policy.ModeBlock) {
			continue
		}
		v.Notes = append(v.Notes, fmt.Sprintf("%d files were not scanned because a limit was hit: %s", len(hit), strings.Join(hit, ", ")))
		if pol.OnError() == policy.OnErrorFail && v.Conclusion != checks.ConclusionFailure {
			v.Conclusion = checks.ConclusionFailure
			v.Title = "Not fully scanned: a limit was hit (" + v.Title + ")"
		}
	}
}
