// Package jobs names gatehouse's queue job kinds and their arguments: the
// contract between the planner that schedules work and the worker that
// does it.
package jobs

// Job kinds.
const (
	KindDelivery = "delivery" // plan a stored webhook delivery
	KindScan     = "scan"     // fetch, scan, evaluate and report one commit
	KindApproval = "approval" // decide a pull request again on an approving review
	// KindDeployment answers a deployment protection rule request.
	KindDeployment = "deployment"
)

// Fast are the kinds that never scan: they are worked apart from the
// others (queue.Config.FastKinds), so that a burst of deliveries is planned
// while scans run, and a pull request's planning never waits for one.
var Fast = []string{KindDelivery, KindApproval}

// Delivery is the argument of a KindDelivery job.
type Delivery struct {
	DeliveryID string `json:"delivery_id"`
}

// Scan kinds say what a scan compares.
const (
	ScanPullRequest = "pull_request"
	ScanPush        = "push"
	ScanBaseline    = "baseline"
	// ScanMergeGroup is a merge queue's group: its temporary
	// gh-readonly-queue commit judged against the base branch's commit.
	ScanMergeGroup = "merge_group"
)

// Scan is the argument of a KindScan job.
type Scan struct {
	DeliveryID     string `json:"delivery_id"`
	InstallationID int64  `json:"installation_id"`
	Repo           string `json:"repo"` // owner/name
	Kind           string `json:"kind"` // ScanPullRequest, ScanPush, ScanBaseline
	HeadSHA        string `json:"head_sha"`
	HeadRef        string `json:"head_ref,omitempty"` // branch pushed to
	// BaseSHA is the pull request's base commit, the push's "before"
	// (empty for a new branch), or the merge group's base.
	BaseSHA       string `json:"base_sha,omitempty"`
	BaseRef       string `json:"base_ref,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
	PRNumber      int    `json:"pr_number,omitempty"`
	// Trigger says who or what asked for the scan ("push", "rerun by @x").
	Trigger string `json:"trigger,omitempty"`
	// CheckRuns maps check → check run id created by the planner.
	CheckRuns map[string]int64 `json:"check_runs"`
}

// ExternalID ties a check run to the scan that asked for it, so a retried
// job finds its own runs instead of creating new ones. A baseline names its
// repository too: one installation delivery plans many repositories.
func ExternalID(s Scan, check string) string {
	if s.Kind == ScanBaseline {
		return "gatehouse:" + s.DeliveryID + ":" + s.Repo + ":" + check
	}
	return "gatehouse:" + s.DeliveryID + ":" + check
}

// Approval is the argument of a KindApproval job: an approving review of a
// pull request, which applies the suppressions the change brings for its
// own findings when the reviewer may approve them.
type Approval struct {
	DeliveryID     string `json:"delivery_id"`
	InstallationID int64  `json:"installation_id"`
	Repo           string `json:"repo"` // owner/name
	PRNumber       int    `json:"pr_number"`
	Author         string `json:"author"`    // the pull request's author
	Reviewer       string `json:"reviewer"`  // who approved
	ReviewID       int64  `json:"review_id"` // the review
	CommitID       string `json:"commit_id"` // the head the review was given on
}

// Deployment is the argument of a KindDeployment job: GitHub asks whether
// a workflow run may deploy a commit to an environment.
type Deployment struct {
	DeliveryID     string `json:"delivery_id"`
	InstallationID int64  `json:"installation_id"`
	Repo           string `json:"repo"` // owner/name
	Environment    string `json:"environment"`
	SHA            string `json:"sha"` // the deployed commit
	Ref            string `json:"ref,omitempty"`
	DefaultBranch  string `json:"default_branch,omitempty"`
	RunID          int64  `json:"run_id"`                  // the workflow run the answer is for
	DeploymentID   int64  `json:"deployment_id,omitempty"` // GitHub's deployment, when one exists
}
