package githubtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// maxCompareCommits is how many commits the compare API lists.
const maxCompareCommits = 250

// compare answers GET /repos/{owner}/{repo}/compare/{basehead} for
// "BASE...HEAD" (or "BASE..HEAD") within the repository.
func (c *call) compare() {
	ctx := c.r.Context()
	bh := c.param("basehead")
	baseRef, headRef, ok := strings.Cut(bh, "...")
	if !ok {
		baseRef, headRef, ok = strings.Cut(bh, "..")
	}
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	base, okBase := c.repo.resolveRef(ctx, baseRef)
	head, okHead := c.repo.resolveRef(ctx, headRef)
	if !okBase || !okHead {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	dir := c.repo.dir
	mb, err := c.s.gitOut(ctx, dir, nil, nil, "merge-base", base, head)
	if err != nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	ahead, _ := c.s.gitOut(ctx, dir, nil, nil, "rev-list", "--count", mb+".."+head)
	behind, _ := c.s.gitOut(ctx, dir, nil, nil, "rev-list", "--count", mb+".."+base)
	status := "diverged"
	switch {
	case ahead == "0" && behind == "0":
		status = "identical"
	case behind == "0":
		status = "ahead"
	case ahead == "0":
		status = "behind"
	}
	list, _ := c.s.gitOut(ctx, dir, nil, nil, "rev-list", "--reverse", "--max-count="+itoa(maxCompareCommits), mb+".."+head)
	var shas []string
	if list != "" {
		shas = strings.Split(list, "\n")
	}
	commits := []any{}
	for _, sha := range paginate(c, shas) {
		commits = append(commits, c.commitJSON(sha))
	}
	files, err := c.s.computeDiff(ctx, dir, base, head)
	if err != nil {
		c.s.tb.Errorf("githubtest: compare %s: %v", bh, err)
		c.fail(http.StatusInternalServerError, "Server Error")
		return
	}
	fileList := []any{}
	for _, f := range files {
		fileList = append(fileList, c.fileJSON(c.repo.FullName(), head, f))
	}
	repo := c.repo.FullName()
	c.respond(http.StatusOK, obj{
		"url":               c.apiURL("repos/%s/compare/%s", repo, bh),
		"html_url":          c.s.srv.URL + "/" + repo + "/compare/" + bh,
		"permalink_url":     c.s.srv.URL + "/" + repo + "/compare/" + base + "..." + head,
		"diff_url":          c.s.srv.URL + "/" + repo + "/compare/" + bh + ".diff",
		"patch_url":         c.s.srv.URL + "/" + repo + "/compare/" + bh + ".patch",
		"base_commit":       c.commitJSON(base),
		"merge_base_commit": c.commitJSON(mb),
		"status":            status,
		"ahead_by":          atoi(ahead),
		"behind_by":         atoi(behind),
		"total_commits":     atoi(ahead),
		"commits":           commits,
		"files":             fileList,
	})
}

// commitJSON renders a commit read with git log.
func (c *call) commitJSON(sha string) obj {
	out, err := c.s.gitOut(c.r.Context(), c.repo.dir, nil, nil, "log", "-1", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", sha)
	f := strings.SplitN(out, "\x00", 9)
	if err != nil || len(f) != 9 {
		return obj{"sha": sha}
	}
	repo := c.repo.FullName()
	parents := []any{}
	for _, p := range strings.Fields(f[1]) {
		parents = append(parents, obj{"sha": p, "url": c.apiURL("repos/%s/commits/%s", repo, p), "html_url": c.s.srv.URL + "/" + repo + "/commit/" + p})
	}
	return obj{
		"sha":          sha,
		"node_id":      base64.StdEncoding.EncodeToString([]byte("Commit:" + sha)),
		"url":          c.apiURL("repos/%s/commits/%s", repo, sha),
		"html_url":     c.s.srv.URL + "/" + repo + "/commit/" + sha,
		"comments_url": c.apiURL("repos/%s/commits/%s/comments", repo, sha),
		"commit": obj{
			"url":           c.apiURL("repos/%s/git/commits/%s", repo, sha),
			"author":        obj{"name": f[2], "email": f[3], "date": f[4]},
			"committer":     obj{"name": f[5], "email": f[6], "date": f[7]},
			"message":       strings.TrimRight(f[8], "\n"),
			"tree":          obj{"sha": f[0], "url": c.apiURL("repos/%s/git/trees/%s", repo, f[0])},
			"comment_count": 0,
		},
		"author":    nil,
		"committer": nil,
		"parents":   parents,
	}
}

// maxSARIFGzip is GitHub's limit on an uploaded, gzipped SARIF file.
const maxSARIFGzip = 10 << 20

// uploadSARIF answers POST /repos/{owner}/{repo}/code-scanning/sarifs. The
// sarif field must be gzip then base64, holding a JSON SARIF document.
func (c *call) uploadSARIF() {
	var body struct {
		CommitSHA string `json:"commit_sha"`
		Ref       string `json:"ref"`
		SARIF     string `json:"sarif"`
		ToolName  string `json:"tool_name"`
	}
	if !c.decode(&body) {
		return
	}
	gz, err := base64.StdEncoding.DecodeString(body.SARIF)
	if err != nil {
		c.violation(http.StatusBadRequest, "sarif is not base64: "+err.Error(), "Invalid request.\n\nsarif must be gzip compressed and base64 encoded")
		return
	}
	if len(gz) > maxSARIFGzip {
		c.violation(http.StatusRequestEntityTooLarge, "sarif larger than 10 MB gzipped", "Payload Too Large")
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	var doc []byte
	if err == nil {
		doc, err = io.ReadAll(zr)
	}
	if err != nil {
		c.violation(http.StatusBadRequest, "sarif is not gzip: "+err.Error(), "Invalid request.\n\nsarif must be gzip compressed and base64 encoded")
		return
	}
	var parsed struct {
		Version string `json:"version"`
		Runs    []any  `json:"runs"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil || parsed.Version != "2.1.0" {
		c.violation(http.StatusBadRequest, "sarif is not a SARIF 2.1.0 JSON document", "Invalid request.\n\nsarif is not a valid SARIF 2.1.0 document")
		return
	}
	if _, ok := c.commitExists(body.CommitSHA); !ok {
		c.violation(http.StatusUnprocessableEntity, "commit_sha is not a commit of the repository", "No commit found for SHA: "+body.CommitSHA)
		return
	}
	id := randomToken("")[:36]
	s := c.s
	s.mu.Lock()
	s.sarifs = append(s.sarifs, &SARIFUpload{ID: id, Repo: c.repo.FullName(), CommitSHA: body.CommitSHA, Ref: body.Ref, ToolName: body.ToolName, SARIF: doc})
	s.mu.Unlock()
	c.respond(http.StatusAccepted, obj{"id": id, "url": c.apiURL("repos/%s/code-scanning/sarifs/%s", c.repo.FullName(), id)})
}
