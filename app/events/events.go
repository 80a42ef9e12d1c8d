// Package events is the one list of the webhook events and actions
// gatehouse acts on, and their decoding: the intake drops everything else
// before storing it, and the planner decodes each stored delivery once and
// plans exactly these.
package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/go-github/v88/github"
)

// handled lists the events gatehouse acts on and their actions; nil means
// every action (push has none).
var handled = map[string][]string{
	"pull_request":               {"opened", "synchronize", "reopened", "ready_for_review"},
	"pull_request_review":        {"submitted"},
	"push":                       nil,
	"check_run":                  {"rerequested"},
	"check_suite":                {"rerequested"},
	"issue_comment":              {"created"},
	"installation":               {"created", "deleted", "suspend"},
	"installation_repositories":  {"added"},
	"merge_group":                {"checks_requested", "destroyed"},
	"deployment_protection_rule": {"requested"},
}

// Known reports whether gatehouse acts on some action of event.
func Known(event string) bool {
	_, ok := handled[event]
	return ok
}

// Wants reports whether gatehouse acts on this action of event.
func Wants(event, action string) bool {
	actions, ok := handled[event]
	return ok && (actions == nil || slices.Contains(actions, action))
}

// Rerun is the part of check_run and check_suite payloads gatehouse reads
// (the Re-run buttons). It is decoded on its own rather than with
// go-github's event types, which fail on fields gatehouse does not use
// (GitHub's recorded examples carry "2018-04-25 20:42:10" timestamps in the
// nested app object).
type Rerun struct {
	Event  string `json:"-"` // check_run or check_suite
	Action string `json:"action"`
	Run    *struct {
		HeadSHA      string                `json:"head_sha"`
		PullRequests []*github.PullRequest `json:"pull_requests"`
	} `json:"check_run"`
	Suite *struct {
		HeadSHA      string                `json:"head_sha"`
		PullRequests []*github.PullRequest `json:"pull_requests"`
	} `json:"check_suite"`
	Repo         *github.Repository `json:"repository"`
	Sender       *github.User       `json:"sender"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// DeploymentGate is a deployment_protection_rule request: gatehouse is a
// custom deployment protection rule of the environment and answers at the
// callback URL. Decoded on its own: go-github's type lacks the top-level
// sha and ref.
type DeploymentGate struct {
	Action      string `json:"action"`
	Environment string `json:"environment"`
	Event       string `json:"event"` // what triggered the workflow (push, workflow_dispatch, …)
	SHA         string `json:"sha"`
	Ref         string `json:"ref"`
	CallbackURL string `json:"deployment_callback_url"`
	Deployment  *struct {
		ID  int64  `json:"id"`
		SHA string `json:"sha"`
		Ref string `json:"ref"`
	} `json:"deployment"`
	Repo         *github.Repository `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// runIDInCallback finds the workflow run id in a deployment callback URL
// (".../actions/runs/{run_id}/deployment_protection_rule").
var runIDInCallback = regexp.MustCompile(`/actions/runs/(\d+)/deployment_protection_rule$`)

// RunID is the workflow run the answer is for (0 when the callback URL
// names none).
func (g *DeploymentGate) RunID() int64 {
	m := runIDInCallback.FindStringSubmatch(g.CallbackURL)
	if m == nil {
		return 0
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// Commit is the deployed commit: the deployment's, else the workflow's.
func (g *DeploymentGate) Commit() string {
	if g.Deployment != nil && g.Deployment.SHA != "" {
		return g.Deployment.SHA
	}
	return g.SHA
}

// Decode decodes a delivery's payload into go-github's type for the event
// (*Rerun for check_run and check_suite, *DeploymentGate for
// deployment_protection_rule).
func Decode(event string, payload []byte) (any, error) {
	var e any
	switch event {
	case "check_run", "check_suite":
		e = &Rerun{Event: event}
	case "deployment_protection_rule":
		e = &DeploymentGate{}
	}
	if e != nil {
		if err := json.Unmarshal(payload, e); err != nil {
			return nil, fmt.Errorf("decode %s payload: %w", event, err)
		}
		return e, nil
	}
	e, err := github.ParseWebHook(event, payload)
	if err != nil {
		return nil, fmt.Errorf("decode %s payload: %w", event, err)
	}
	return e, nil
}
