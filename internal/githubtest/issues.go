package githubtest

import (
	"net/http"
	"sort"
	"strings"
)

// issueOr404 checks that the issue number is a pull request of the
// repository (the fake has no plain issues) and answers 404 otherwise.
func (c *call) issueOr404() (int, bool) {
	n := int(c.intParam("issue_number"))
	if c.s.pull(c.repo.FullName(), n) == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return 0, false
	}
	return n, true
}

// listIssueComments answers GET /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (c *call) listIssueComments() {
	n, ok := c.issueOr404()
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	var list []IssueComment
	for _, ic := range s.issueComments {
		if strings.EqualFold(ic.Repo, c.repo.FullName()) && ic.IssueNumber == n {
			list = append(list, *ic)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	out := []any{}
	for _, ic := range paginate(c, list) {
		out = append(out, c.issueCommentJSON(&ic))
	}
	c.respond(http.StatusOK, out)
}

// createIssueComment answers POST /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (c *call) createIssueComment() {
	n, ok := c.issueOr404()
	if !ok {
		return
	}
	var body struct {
		Body string `json:"body"`
	}
	if !c.decode(&body) || !c.checkBody(body.Body, "IssueComment") {
		return
	}
	s := c.s
	s.mu.Lock()
	s.nextID++
	ic := &IssueComment{ID: s.nextID, Repo: c.repo.FullName(), IssueNumber: n, User: s.BotLogin(), Body: body.Body}
	s.issueComments = append(s.issueComments, ic)
	out := *ic
	s.mu.Unlock()
	c.respond(http.StatusCreated, c.issueCommentJSON(&out))
}

// updateIssueComment answers PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (c *call) updateIssueComment() {
	var body struct {
		Body string `json:"body"`
	}
	if !c.decode(&body) || !c.checkBody(body.Body, "IssueComment") {
		return
	}
	s := c.s
	s.mu.Lock()
	ic := s.issueComment(c.repo, c.intParam("comment_id"))
	if ic == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	ic.Body = body.Body
	ic.Edits++
	out := *ic
	s.mu.Unlock()
	c.respond(http.StatusOK, c.issueCommentJSON(&out))
}

// issueComment finds an issue comment of the repository. Callers hold s.mu.
func (s *Server) issueComment(repo *Repo, id int64) *IssueComment {
	for _, ic := range s.issueComments {
		if ic.ID == id && strings.EqualFold(ic.Repo, repo.FullName()) {
			return ic
		}
	}
	return nil
}

// createReaction answers POST .../issues/comments/{comment_id}/reactions:
// 201 for a new reaction, 200 when the app already reacted so.
func (c *call) createReaction() {
	var body struct {
		Content string `json:"content"`
	}
	if !c.decode(&body) {
		return
	}
	s := c.s
	s.mu.Lock()
	ic := s.issueComment(c.repo, c.intParam("comment_id"))
	if ic == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	user := s.BotLogin()
	status := http.StatusCreated
	var re *Reaction
	for _, r := range s.reactions {
		if r.CommentID == ic.ID && r.User == user && r.Content == body.Content {
			re, status = r, http.StatusOK
		}
	}
	if re == nil {
		s.nextID++
		re = &Reaction{ID: s.nextID, Repo: ic.Repo, CommentID: ic.ID, User: user, Content: body.Content}
		s.reactions = append(s.reactions, re)
	}
	out := *re
	s.mu.Unlock()
	c.respond(status, obj{
		"id":         out.ID,
		"node_id":    nodeID("Reaction", out.ID),
		"user":       c.userJSON(out.User),
		"content":    out.Content,
		"created_at": fixedTime,
	})
}
