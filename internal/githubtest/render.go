package githubtest

import (
	"encoding/base64"
	"hash/fnv"
	"strings"
)

// userID gives every login a stable id.
func userID(login string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(login)))
	return int64(h.Sum32()%100_000_000) + 1
}

func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(kind + ":" + itoa(int(id))))
}

// userJSON renders a user (or a bot, for logins ending in [bot]).
func (c *call) userJSON(login string) obj {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	id := userID(login)
	return obj{
		"login":      login,
		"id":         id,
		"node_id":    nodeID("User", id),
		"type":       typ,
		"url":        c.apiURL("users/%s", login),
		"html_url":   c.s.srv.URL + "/" + login,
		"site_admin": false,
	}
}

// accountJSON renders an organization account.
func (c *call) accountJSON(login string) obj {
	u := c.userJSON(login)
	u["type"] = "Organization"
	return u
}

// repoJSON renders a repository.
func (c *call) repoJSON(r *Repo) obj {
	s := c.s
	s.mu.Lock()
	public, branch, parent := r.public, r.defaultBranch, r.forkOf
	s.mu.Unlock()
	visibility := "private"
	if public {
		visibility = "public"
	}
	base := c.apiURL("repos/%s", r.FullName())
	out := obj{
		"id":             r.id,
		"node_id":        nodeID("Repository", r.id),
		"name":           r.name,
		"full_name":      r.FullName(),
		"owner":          c.accountJSON(r.owner),
		"private":        !public,
		"visibility":     visibility,
		"fork":           parent != nil,
		"default_branch": branch,
		"url":            base,
		"html_url":       s.srv.URL + "/" + r.FullName(),
		"clone_url":      r.CloneURL(),
		"git_url":        r.CloneURL(),
		"archived":       false,
		"disabled":       false,
		"permissions":    obj{"admin": false, "maintain": false, "push": false, "triage": false, "pull": true},
	}
	return out
}

// appJSON renders the app (an "integration").
func (c *call) appJSON() obj {
	s := c.s
	return obj{
		"id":           s.appID,
		"slug":         s.appSlug,
		"node_id":      nodeID("Integration", s.appID),
		"client_id":    "Iv1.fake" + itoa(int(s.appID)),
		"name":         s.appSlug,
		"owner":        c.accountJSON("gatehouse"),
		"description":  "githubtest fake app",
		"external_url": "https://example.invalid/" + s.appSlug,
		"html_url":     s.srv.URL + "/apps/" + s.appSlug,
		"permissions":  DefaultPermissions(),
		"events":       []string{"check_run", "check_suite", "issue_comment", "pull_request", "push"},
	}
}

// installationJSON renders an installation. Callers hold no lock.
func (c *call) installationJSON(inst *installation) obj {
	s := c.s
	s.mu.Lock()
	perms := map[string]any{}
	for k, v := range inst.perms {
		perms[k] = v
	}
	all := inst.all
	s.mu.Unlock()
	selection := "selected"
	if all {
		selection = "all"
	}
	return obj{
		"id":                   inst.id,
		"account":              c.accountJSON(inst.account),
		"app_id":               s.appID,
		"app_slug":             s.appSlug,
		"target_id":            inst.accountID,
		"target_type":          "Organization",
		"repository_selection": selection,
		"permissions":          perms,
		"events":               []string{"check_run", "check_suite", "issue_comment", "pull_request", "push"},
		"access_tokens_url":    c.apiURL("app/installations/%d/access_tokens", inst.id),
		"repositories_url":     c.apiURL("installation/repositories"),
		"html_url":             s.srv.URL + "/organizations/" + inst.account + "/settings/installations/" + itoa(int(inst.id)),
		"created_at":           fixedTime,
		"updated_at":           fixedTime,
		"single_file_name":     nil,
	}
}

// reviewCommentJSON renders a review comment.
func (c *call) reviewCommentJSON(rc *ReviewComment) obj {
	out := obj{
		"id":                     rc.ID,
		"node_id":                nodeID("PullRequestReviewComment", rc.ID),
		"pull_request_review_id": rc.ReviewID,
		"url":                    c.apiURL("repos/%s/pulls/comments/%d", rc.Repo, rc.ID),
		"pull_request_url":       c.apiURL("repos/%s/pulls/%d", rc.Repo, rc.PullNumber),
		"html_url":               c.s.srv.URL + "/" + rc.Repo + "/pull/" + itoa(rc.PullNumber) + "#discussion_r" + itoa(int(rc.ID)),
		"diff_hunk":              rc.DiffHunk,
		"path":                   rc.Path,
		"commit_id":              rc.CommitID,
		"original_commit_id":     rc.CommitID,
		"user":                   c.userJSON(rc.User),
		"body":                   rc.Body,
		"author_association":     "NONE",
		"subject_type":           rc.SubjectType,
		"_links": obj{
			"self":         obj{"href": c.apiURL("repos/%s/pulls/comments/%d", rc.Repo, rc.ID)},
			"html":         obj{"href": c.s.srv.URL + "/" + rc.Repo + "/pull/" + itoa(rc.PullNumber)},
			"pull_request": obj{"href": c.apiURL("repos/%s/pulls/%d", rc.Repo, rc.PullNumber)},
		},
	}
	if rc.InReplyTo != 0 {
		out["in_reply_to_id"] = rc.InReplyTo
	}
	if rc.SubjectType != "file" && rc.Line > 0 {
		out["line"], out["original_line"], out["side"] = rc.Line, rc.Line, rc.Side
	}
	if rc.Position > 0 {
		out["position"], out["original_position"] = rc.Position, rc.Position
	}
	if rc.StartLine > 0 {
		out["start_line"], out["original_start_line"], out["start_side"] = rc.StartLine, rc.StartLine, rc.StartSide
	}
	return out
}

// issueCommentJSON renders an issue comment.
func (c *call) issueCommentJSON(ic *IssueComment) obj {
	return obj{
		"id":                 ic.ID,
		"node_id":            nodeID("IssueComment", ic.ID),
		"url":                c.apiURL("repos/%s/issues/comments/%d", ic.Repo, ic.ID),
		"html_url":           c.s.srv.URL + "/" + ic.Repo + "/pull/" + itoa(ic.IssueNumber) + "#issuecomment-" + itoa(int(ic.ID)),
		"issue_url":          c.apiURL("repos/%s/issues/%d", ic.Repo, ic.IssueNumber),
		"body":               ic.Body,
		"user":               c.userJSON(ic.User),
		"author_association": "NONE",
		"created_at":         fixedTime,
		"updated_at":         fixedTime,
	}
}
