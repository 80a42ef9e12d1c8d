// Package events is the one list of the webhook events and actions
// gatehouse acts on, and their decoding: the intake drops everything else
// before storing it, and the planner decodes each stored delivery once and
// plans exactly these.
package events

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/go-github/v88/github"
)

// handled lists the events gatehouse acts on and their actions; nil means
// every action (push has none).
var handled = map[string][]string{
	"pull_request":              {"opened", "synchronize", "reopened", "ready_for_review"},
	"pull_request_review":       {"submitted"},
	"push":                      nil,
	"check_run":                 {"rerequested"},
	"check_suite":               {"rerequested"},
	"issue_comment":             {"created"},
	"installation":              {"created", "deleted", "suspend"},
	"installation_repositories": {"added"},
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

// Decode decodes a delivery's payload into go-github's type for the event
// (*Rerun for check_run and check_suite).
func Decode(event string, payload []byte) (any, error) {
	if event == "check_run" || event == "check_suite" {
		e := &Rerun{Event: event}
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
