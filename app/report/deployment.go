package report

import (
	"context"
	"fmt"

	"github.com/google/go-github/v88/github"
)

// Deployment states a protection rule answers with.
const (
	DeploymentApproved = "approved"
	DeploymentRejected = "rejected"
)

// AnswerDeployment answers a deployment protection rule request for a
// workflow run: approved or rejected, with a comment saying why.
func AnswerDeployment(ctx context.Context, gh *github.Client, repo Repo, runID int64, environment, state, comment string) error {
	_, err := gh.Actions.ReviewCustomDeploymentProtectionRule(ctx, repo.Owner, repo.Name, runID, &github.ReviewCustomDeploymentProtectionRuleRequest{
		EnvironmentName: environment, State: state, Comment: comment,
	})
	if err != nil {
		return fmt.Errorf("answer the deployment of %s run %d to %s (%s): %w", repo, runID, environment, state, err)
	}
	return nil
}
