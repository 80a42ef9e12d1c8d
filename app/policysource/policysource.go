// Package policysource reads what a scan is judged by from GitHub: the
// policy — built-in defaults < the server file < the org's .github
// repository < the repo's own file — and the org's and repository's custom
// checks, each at the right commit (never the pull request's head). The
// verdict pipeline (checks/verdict) does the judging.
package policysource

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// Path is where policy files live in a repository.
const Path = verdict.PolicyPath

// OrgRepo is the org-wide settings repository.
const OrgRepo = ".github"

// Source reads the policy and custom checks of scans (worker.Policies).
type Source struct {
	Server *policy.File // the server-wide file, or nil
}

// Load resolves the policy of a scan and reads the custom checks it runs,
// unless the policy turns them off (checks.custom.mode: off). A policy
// file that cannot be read or parsed is a *policy.ParseError with the
// file, line and problem (the scan fails every check with it: never a
// fallback to a weaker policy); any other error means GitHub could not be
// read.
func (s *Source) Load(ctx context.Context, gh *github.Client, scan jobs.Scan) (*policy.Policy, []checks.CustomCheck, error) {
	pol, err := s.Resolve(ctx, gh, scan)
	if err != nil {
		return nil, nil, err
	}
	if cp, _ := pol.Check(policy.Custom); cp.Mode == policy.ModeOff {
		return pol, nil, nil
	}
	custom, err := customChecks(ctx, gh, scan)
	if err != nil {
		return nil, nil, err
	}
	return pol, custom, nil
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
		return nil, &policy.ParseError{File: name, Msg: "a directory, want a file"}
	}
	if fc.GetSize() > policy.MaxFileSize {
		return nil, &policy.ParseError{File: name, Msg: fmt.Sprintf("%d bytes, larger than the %d allowed", fc.GetSize(), policy.MaxFileSize)}
	}
	content, err := fc.GetContent()
	if err != nil {
		return nil, &policy.ParseError{File: name, Msg: "cannot be decoded: " + err.Error()}
	}
	return policy.Parse(name, []byte(content))
}
