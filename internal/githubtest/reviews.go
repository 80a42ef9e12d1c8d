package githubtest

import (
	"net/http"
	"strings"
)

// reviewBody is the body of POST .../pulls/{pull_number}/reviews.
type reviewBody struct {
	CommitID string `json:"commit_id"`
	Body     string `json:"body"`
	Event    string `json:"event"`
	Comments []struct {
		Path      string `json:"path"`
		Position  int    `json:"position"`
		Body      string `json:"body"`
		Line      int    `json:"line"`
		Side      string `json:"side"`
		StartLine int    `json:"start_line"`
		StartSide string `json:"start_side"`
	} `json:"comments"`
}

// reviewStates maps a review event to the review's state.
var reviewStates = map[string]string{
	"APPROVE":         "APPROVED",
	"REQUEST_CHANGES": "CHANGES_REQUESTED",
	"COMMENT":         "COMMENTED",
	"":                "PENDING",
}

// createReview answers POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews.
// Every comment must sit on a line of the pull request's diff (on its side),
// as GitHub requires; otherwise the whole review is refused with 422.
func (c *call) createReview() {
	p, pr, ok := c.pullOr404("pull_number")
	if !ok {
		return
	}
	var b reviewBody
	if !c.decode(&b) || !c.checkBody(b.Body, "PullRequestReview") {
		return
	}
	for _, cm := range b.Comments {
		if !c.checkBody(cm.Body, "PullRequestReviewComment") {
			return
		}
	}
	unprocessable := func(reason string, errs ...string) {
		list := make([]any, len(errs))
		for i, e := range errs {
			list[i] = e
		}
		c.violationErr(http.StatusUnprocessableEntity, reason, "Unprocessable Entity", list)
	}
	if b.Event == "REQUEST_CHANGES" && b.Body == "" {
		unprocessable("REQUEST_CHANGES review without a body", "Body is required for a review that requests changes")
		return
	}
	if b.Event == "COMMENT" && b.Body == "" && len(b.Comments) == 0 {
		unprocessable("COMMENT review without body or comments", "Body is required for a comment review without comments")
		return
	}
	commit := pr.HeadSHA
	if b.CommitID != "" {
		if _, ok := c.commitExists(b.CommitID); !ok {
			unprocessable("commit_id is not a commit of the repository", "No commit found for SHA: "+b.CommitID)
			return
		}
		commit = b.CommitID
	}
	files, ok := c.pullDiff(p, pr, commit)
	if !ok {
		return
	}
	byPath := map[string]*diffFile{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	var comments []*ReviewComment
	var problems []string
	for _, cm := range b.Comments {
		rc, problem := placeComment(byPath[cm.Path], cm.Path, cm.Line, cm.Side, cm.StartLine, cm.StartSide, cm.Position)
		if problem != "" {
			problems = append(problems, problem)
			if strings.HasSuffix(problem, "line must be part of the diff") {
				problems = append(problems, "Pull request review thread diff hunk can't be blank")
			}
			continue
		}
		rc.Body = cm.Body
		comments = append(comments, rc)
	}
	if len(problems) > 0 {
		unprocessable("review comment outside the diff: "+strings.Join(problems, "; "), joinGitHub(problems))
		return
	}
	s := c.s
	s.mu.Lock()
	user := s.BotLogin()
	if b.Event == "" {
		for _, r := range s.reviews {
			if strings.EqualFold(r.Repo, c.repo.FullName()) && r.PullNumber == pr.Number && r.User == user && r.State == "PENDING" {
				s.mu.Unlock()
				unprocessable("a second pending review", "User can only have one pending review per pull request")
				return
			}
		}
	}
	s.nextID++
	rev := &Review{ID: s.nextID, Repo: c.repo.FullName(), PullNumber: pr.Number, User: user, CommitID: commit, Body: b.Body, Event: b.Event, State: reviewStates[b.Event]}
	for _, rc := range comments {
		s.nextID++
		rc.ID, rc.Repo, rc.PullNumber, rc.ReviewID, rc.User, rc.CommitID = s.nextID, rev.Repo, pr.Number, rev.ID, user, commit
		rev.CommentIDs = append(rev.CommentIDs, rc.ID)
		s.reviewComments = append(s.reviewComments, rc)
	}
	s.reviews = append(s.reviews, rev)
	out := *rev
	s.mu.Unlock()

	base := c.apiURL("repos/%s/pulls/%d", out.Repo, out.PullNumber)
	html := c.s.srv.URL + "/" + out.Repo + "/pull/" + itoa(out.PullNumber) + "#pullrequestreview-" + itoa(int(out.ID))
	resp := obj{
		"id":                 out.ID,
		"node_id":            nodeID("PullRequestReview", out.ID),
		"user":               c.userJSON(out.User),
		"body":               out.Body,
		"state":              out.State,
		"commit_id":          out.CommitID,
		"html_url":           html,
		"pull_request_url":   base,
		"author_association": "NONE",
		"_links":             obj{"html": obj{"href": html}, "pull_request": obj{"href": base}},
	}
	if out.State != "PENDING" {
		resp["submitted_at"] = c.nowString()
	}
	c.respond(http.StatusOK, resp)
}

// placeComment checks a review comment's anchor against the file's diff and
// returns the comment placed on it, or GitHub's complaint.
func placeComment(f *diffFile, path string, line int, side string, startLine int, startSide string, pos int) (*ReviewComment, string) {
	if f == nil {
		return nil, "Path could not be resolved"
	}
	if side == "" {
		side = "RIGHT"
	}
	if startSide == "" {
		startSide = side
	}
	rc := &ReviewComment{Path: path, Side: side, SubjectType: "line"}
	var idx int
	switch {
	case line > 0:
		idx = f.lineIndex(side, line)
		if idx < 0 {
			return nil, "Pull request review thread line must be part of the diff"
		}
		rc.Line = line
	case pos > 0:
		idx = f.indexOfPosition(pos)
		if idx < 0 {
			return nil, "Pull request review thread position is invalid"
		}
		l := f.lines[idx]
		rc.Position = pos
		if l.kind == '-' {
			rc.Side, rc.Line = "LEFT", l.old
		} else {
			rc.Line = l.new
		}
	default:
		return nil, "Pull request review thread line must be part of the diff"
	}
	if idx >= 0 && rc.Position == 0 {
		rc.Position = position(idx)
	}
	if startLine > 0 {
		sIdx := f.lineIndex(startSide, startLine)
		switch {
		case sIdx < 0:
			return nil, "Pull request review thread start line must be part of the diff"
		case sIdx >= idx:
			return nil, "Pull request review thread start line must precede the end line."
		case f.lines[sIdx].hunk != f.lines[idx].hunk:
			return nil, "Pull request review thread start line must be part of the same hunk as the line."
		}
		rc.StartLine, rc.StartSide = startLine, startSide
	}
	rc.DiffHunk = f.hunkText(idx)
	return rc, ""
}

// joinGitHub joins messages the way GitHub's errors do: "a, b, and c".
func joinGitHub(msgs []string) string {
	seen := map[string]bool{}
	var uniq []string
	for _, m := range msgs {
		if !seen[m] {
			seen[m] = true
			uniq = append(uniq, m)
		}
	}
	switch len(uniq) {
	case 1:
		return uniq[0]
	case 2:
		return uniq[0] + " and " + uniq[1]
	}
	return strings.Join(uniq[:len(uniq)-1], ", ") + ", and " + uniq[len(uniq)-1]
}
