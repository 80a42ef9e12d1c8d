package githubtest

import (
	"net/http"
	"strings"
)

// DeploymentAnswer is an answer to a deployment protection rule: the app
// approved or rejected a workflow run's deployment to an environment.
type DeploymentAnswer struct {
	Repo        string
	RunID       int64
	Environment string
	State       string // approved, rejected, or "" for a comment alone
	Comment     string
}

// gate is a workflow run waiting on the app's protection rule.
type gate struct {
	repo         string
	runID        int64
	environments []string
}

// RequestDeployment makes a workflow run of repo wait on the app's custom
// deployment protection rule for environment, as GitHub does before it
// sends deployment_protection_rule: the run then accepts answers for it.
func (s *Server) RequestDeployment(repo string, runID int64, environment string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.gates {
		if strings.EqualFold(g.repo, repo) && g.runID == runID {
			g.environments = append(g.environments, environment)
			return
		}
	}
	s.gates = append(s.gates, &gate{repo: repo, runID: runID, environments: []string{environment}})
}

// DeploymentAnswers returns the answers given on repo's workflow runs, in
// arrival order.
func (s *Server) DeploymentAnswers(repo string) []DeploymentAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeploymentAnswer
	for _, a := range s.deploymentAnswers {
		if strings.EqualFold(a.Repo, repo) {
			out = append(out, *a)
		}
	}
	return out
}

// reviewCustomGates answers POST
// /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule:
// 404 for a run that waits on no rule of the app, 422 for an environment
// the run does not wait on, else 204.
func (c *call) reviewCustomGates() {
	var body struct {
		Environment string `json:"environment_name"`
		State       string `json:"state"`
		Comment     string `json:"comment"`
	}
	if !c.decode(&body) {
		return
	}
	if body.State != "" && body.State != "approved" && body.State != "rejected" {
		// The description's anyOf lets any state through with a comment;
		// GitHub takes only these two.
		c.violation(http.StatusUnprocessableEntity, "state must be approved or rejected, not "+body.State, "Validation Failed")
		return
	}
	s := c.s
	run := c.intParam("run_id")
	s.mu.Lock()
	var g *gate
	for _, x := range s.gates {
		if strings.EqualFold(x.repo, c.repo.FullName()) && x.runID == run {
			g = x
		}
	}
	if g == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	if !containsFold(g.environments, body.Environment) {
		s.mu.Unlock()
		c.violation(http.StatusUnprocessableEntity, "workflow run "+itoa(int(run))+" does not wait on environment "+body.Environment,
			"No pending deployment protection rule for environment "+body.Environment)
		return
	}
	s.deploymentAnswers = append(s.deploymentAnswers, &DeploymentAnswer{
		Repo: c.repo.FullName(), RunID: run, Environment: body.Environment, State: body.State, Comment: body.Comment,
	})
	s.mu.Unlock()
	if c.route.op.Responses.Status(http.StatusNoContent) == nil {
		c.s.tb.Errorf("githubtest: %s answers 204, which the description does not list", c.route.operationID())
	}
	c.w.WriteHeader(http.StatusNoContent)
}
