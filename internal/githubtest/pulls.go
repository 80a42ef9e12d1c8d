package githubtest

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// maxCommentBody is GitHub's limit on issue and review comment bodies.
const maxCommentBody = 65536

// pullOr404 returns the pull request named by the path, or answers 404.
func (c *call) pullOr404(param string) (*pull, PullRequest, bool) {
	p := c.s.pull(c.repo.FullName(), int(c.intParam(param)))
	if p == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return nil, PullRequest{}, false
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return p, p.PullRequest, true
}

// pullDiff computes the pull request's diff against commit (head when "").
func (c *call) pullDiff(p *pull, pr PullRequest, commit string) ([]*diffFile, bool) {
	if commit == "" {
		commit = pr.HeadSHA
	}
	files, err := c.s.computeDiff(c.r.Context(), p.repo.dir, pr.BaseSHA, commit)
	if err != nil {
		c.s.tb.Errorf("githubtest: diff of %s#%d: %v", p.repo.FullName(), pr.Number, err)
		c.fail(http.StatusInternalServerError, "Server Error")
		return nil, false
	}
	return files, true
}

// getPull answers GET /repos/{owner}/{repo}/pulls/{pull_number}, as JSON or,
// with the diff or patch media type, as text.
func (c *call) getPull() {
	p, pr, ok := c.pullOr404("pull_number")
	if !ok {
		return
	}
	accept := c.r.Header.Get("Accept")
	if strings.Contains(accept, "diff") || strings.Contains(accept, "patch") {
		args := []string{"diff", "--no-color", "--no-ext-diff", "-M", pr.BaseSHA + "..." + pr.HeadSHA}
		if strings.Contains(accept, "patch") {
			args = []string{"format-patch", "--stdout", pr.BaseSHA + ".." + pr.HeadSHA}
		}
		out, err := c.s.gitRaw(c.r.Context(), p.repo.dir, nil, nil, args...)
		if err != nil {
			c.fail(http.StatusInternalServerError, "Server Error")
			return
		}
		c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(out)
		return
	}
	files, ok := c.pullDiff(p, pr, "")
	if !ok {
		return
	}
	adds, dels := 0, 0
	for _, f := range files {
		adds += f.Additions
		dels += f.Deletions
	}
	commits, _ := c.s.gitOut(c.r.Context(), p.repo.dir, nil, nil, "rev-list", "--count", pr.BaseSHA+".."+pr.HeadSHA)
	base := c.apiURL("repos/%s/pulls/%d", p.repo.FullName(), pr.Number)
	branch := func(r *Repo, ref, sha string) obj {
		return obj{"label": r.owner + ":" + ref, "ref": ref, "sha": sha, "user": c.accountJSON(r.owner), "repo": c.repoJSON(r)}
	}
	c.respond(http.StatusOK, obj{
		"id":                    p.id,
		"node_id":               nodeID("PullRequest", p.id),
		"number":                pr.Number,
		"state":                 pr.State,
		"title":                 pr.Title,
		"body":                  pr.Body,
		"draft":                 pr.Draft,
		"user":                  c.userJSON(pr.User),
		"url":                   base,
		"html_url":              c.s.srv.URL + "/" + p.repo.FullName() + "/pull/" + itoa(pr.Number),
		"diff_url":              c.s.srv.URL + "/" + p.repo.FullName() + "/pull/" + itoa(pr.Number) + ".diff",
		"patch_url":             c.s.srv.URL + "/" + p.repo.FullName() + "/pull/" + itoa(pr.Number) + ".patch",
		"commits_url":           base + "/commits",
		"review_comments_url":   base + "/comments",
		"comments_url":          c.apiURL("repos/%s/issues/%d/comments", p.repo.FullName(), pr.Number),
		"head":                  branch(p.head, pr.HeadRef, pr.HeadSHA),
		"base":                  branch(p.repo, pr.BaseRef, pr.BaseSHA),
		"merged":                false,
		"mergeable":             true,
		"maintainer_can_modify": false,
		"commits":               atoi(commits),
		"additions":             adds,
		"deletions":             dels,
		"changed_files":         len(files),
		"author_association":    "CONTRIBUTOR",
	})
}

// listPullFiles answers GET /repos/{owner}/{repo}/pulls/{pull_number}/files.
func (c *call) listPullFiles() {
	p, pr, ok := c.pullOr404("pull_number")
	if !ok {
		return
	}
	files, ok := c.pullDiff(p, pr, "")
	if !ok {
		return
	}
	list := []any{}
	for _, f := range paginate(c, files) {
		list = append(list, c.fileJSON(p.repo.FullName(), pr.HeadSHA, f))
	}
	c.respond(http.StatusOK, list)
}

// fileJSON renders a diff entry.
func (c *call) fileJSON(repo, sha string, f *diffFile) obj {
	out := obj{
		"sha":          f.BlobSHA,
		"filename":     f.Path,
		"status":       f.Status,
		"additions":    f.Additions,
		"deletions":    f.Deletions,
		"changes":      f.Additions + f.Deletions,
		"blob_url":     c.s.srv.URL + "/" + repo + "/blob/" + sha + "/" + f.Path,
		"raw_url":      c.s.srv.URL + "/" + repo + "/raw/" + sha + "/" + f.Path,
		"contents_url": c.apiURL("repos/%s/contents/%s?ref=%s", repo, f.Path, sha),
	}
	if !f.Binary && f.Patch != "" {
		out["patch"] = f.Patch
	}
	if f.PreviousPath != "" {
		out["previous_filename"] = f.PreviousPath
	}
	return out
}

// listReviewComments answers GET .../pulls/{pull_number}/comments.
func (c *call) listReviewComments() {
	_, pr, ok := c.pullOr404("pull_number")
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	var list []ReviewComment
	for _, rc := range s.reviewComments {
		if strings.EqualFold(rc.Repo, c.repo.FullName()) && rc.PullNumber == pr.Number {
			list = append(list, *rc)
		}
	}
	s.mu.Unlock()
	if c.r.URL.Query().Get("direction") == "desc" {
		sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID })
	}
	out := []any{}
	for _, rc := range paginate(c, list) {
		out = append(out, c.reviewCommentJSON(&rc))
	}
	c.respond(http.StatusOK, out)
}

// createReply answers POST .../pulls/{pull_number}/comments/{comment_id}/replies.
func (c *call) createReply() {
	_, pr, ok := c.pullOr404("pull_number")
	if !ok {
		return
	}
	var body struct {
		Body string `json:"body"`
	}
	if !c.decode(&body) || !c.checkBody(body.Body, "PullRequestReviewComment") {
		return
	}
	s := c.s
	s.mu.Lock()
	parent := s.reviewComment(c.repo, c.intParam("comment_id"))
	if parent == nil || parent.PullNumber != pr.Number {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	root := parent.ID
	if parent.InReplyTo != 0 {
		root = parent.InReplyTo
	}
	// GitHub wraps each reply in a review of its own; the fake gives the
	// reply a review id but keeps no Review record for it.
	s.nextID += 2
	rc := &ReviewComment{
		ID: s.nextID - 1, Repo: parent.Repo, PullNumber: pr.Number, ReviewID: s.nextID, InReplyTo: root,
		User: s.BotLogin(), CommitID: parent.CommitID, Path: parent.Path, Line: parent.Line, Side: parent.Side,
		StartLine: parent.StartLine, StartSide: parent.StartSide, Position: parent.Position,
		SubjectType: parent.SubjectType, DiffHunk: parent.DiffHunk, Body: body.Body,
	}
	s.reviewComments = append(s.reviewComments, rc)
	out := *rc
	s.mu.Unlock()
	c.respond(http.StatusCreated, c.reviewCommentJSON(&out))
}

// updateReviewComment answers PATCH /repos/{owner}/{repo}/pulls/comments/{comment_id}.
func (c *call) updateReviewComment() {
	var body struct {
		Body string `json:"body"`
	}
	if !c.decode(&body) || !c.checkBody(body.Body, "PullRequestReviewComment") {
		return
	}
	s := c.s
	s.mu.Lock()
	rc := s.reviewComment(c.repo, c.intParam("comment_id"))
	if rc == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	rc.Body = body.Body
	rc.Edits++
	out := *rc
	s.mu.Unlock()
	c.respond(http.StatusOK, c.reviewCommentJSON(&out))
}

// reviewComment finds a review comment of the repository. Callers hold s.mu.
func (s *Server) reviewComment(repo *Repo, id int64) *ReviewComment {
	for _, rc := range s.reviewComments {
		if rc.ID == id && strings.EqualFold(rc.Repo, repo.FullName()) {
			return rc
		}
	}
	return nil
}

// checkBody enforces GitHub's comment body limit.
func (c *call) checkBody(body, resource string) bool {
	if n := len([]rune(body)); n > maxCommentBody {
		c.violationErr(http.StatusUnprocessableEntity, "comment body longer than 65536 characters", "Validation Failed", []any{
			obj{"resource": resource, "code": "unprocessable", "field": "data", "message": "Body is too long (maximum is 65536 characters)"},
		})
		return false
	}
	return true
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// nowString is the server's current time as GitHub formats it.
func (c *call) nowString() string { return c.s.now().UTC().Format(time.RFC3339) }
