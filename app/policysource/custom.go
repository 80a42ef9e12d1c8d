package policysource

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// ChecksDir is where custom Rego checks live, in the org's .github
// repository (every repository) and in a repository (that one).
const ChecksDir = verdict.ChecksDir

// customChecks reads the custom checks a scan runs: the org's, from its
// .github repository's default branch, then the repository's own, from the
// same commit its policy file is read from (a pull request's base, never
// its head). Files beyond the limits are passed on rejected, not fetched.
func customChecks(ctx context.Context, gh *github.Client, scan jobs.Scan) ([]checks.CustomCheck, error) {
	owner, repo, _ := strings.Cut(scan.Repo, "/")
	var out []checks.CustomCheck
	if repo != OrgRepo {
		org, err := readChecksDir(ctx, gh, owner, OrgRepo, "", checks.OriginOrg, owner+"/"+OrgRepo+":")
		if err != nil {
			return nil, err
		}
		out = append(out, org...)
	}
	origin := checks.OriginRepo
	if repo == OrgRepo {
		origin = checks.OriginOrg // the org's own checks apply to it too
	}
	own, err := readChecksDir(ctx, gh, owner, repo, policyRef(scan), origin, "")
	if err != nil {
		return nil, err
	}
	return checks.CapCustomChecks(append(out, own...)), nil
}

// policyRef is the commit a scan's repository settings are read from: the
// base of a pull request or a merge group, else the default branch.
func policyRef(scan jobs.Scan) string {
	if (scan.Kind == jobs.ScanPullRequest || scan.Kind == jobs.ScanMergeGroup) && scan.BaseSHA != "" {
		return scan.BaseSHA
	}
	return scan.DefaultBranch
}

// readChecksDir lists ChecksDir at ref and reads its check files. A
// missing directory is no checks.
func readChecksDir(ctx context.Context, gh *github.Client, owner, repo, ref, origin, prefix string) ([]checks.CustomCheck, error) {
	var opts *github.RepositoryContentGetOptions
	if ref != "" {
		opts = &github.RepositoryContentGetOptions{Ref: ref}
	}
	file, dir, resp, err := gh.Repositories.GetContents(ctx, owner, repo, ChecksDir, opts)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s in %s/%s: %w", ChecksDir, owner, repo, err)
	}
	if file != nil {
		return nil, nil // a file where the folder should be: no checks
	}
	slices.SortFunc(dir, func(a, b *github.RepositoryContent) int { return strings.Compare(a.GetPath(), b.GetPath()) })
	var out []checks.CustomCheck
	admitted := 0
	for _, e := range dir {
		if !checks.IsCustomCheckFile(e.GetName()) {
			continue
		}
		name := prefix + e.GetPath()
		if why := checks.CustomCheckRejection(e.GetType(), int64(e.GetSize()), admitted); why != "" {
			out = append(out, checks.CustomCheck{Name: name, Origin: origin, Rejected: why})
			continue
		}
		admitted++
		fc, _, _, err := gh.Repositories.GetContents(ctx, owner, repo, e.GetPath(), opts)
		if err != nil {
			return nil, fmt.Errorf("read %s from %s/%s: %w", e.GetPath(), owner, repo, err)
		}
		if fc == nil {
			return nil, fmt.Errorf("read %s from %s/%s: not a file", e.GetPath(), owner, repo)
		}
		content, err := fc.GetContent()
		if err != nil {
			return nil, fmt.Errorf("decode %s from %s/%s: %w", e.GetPath(), owner, repo, err)
		}
		out = append(out, checks.NewCustomCheck(name, origin, []byte(content)))
	}
	return out, nil
}
