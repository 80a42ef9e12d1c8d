package githubtest

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// GitHub's check-run limits.
const (
	maxAnnotationsPerRequest = 50
	maxCheckRunText          = 65535
)

var shaPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// checkRunBody is the body of a check-run create or update.
type checkRunBody struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	StartedAt   *string `json:"started_at"`
	Conclusion  *string `json:"conclusion"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       string  `json:"title"`
		Summary     string  `json:"summary"`
		Text        *string `json:"text"`
		Annotations []struct {
			Path            string `json:"path"`
			StartLine       int    `json:"start_line"`
			EndLine         int    `json:"end_line"`
			StartColumn     *int   `json:"start_column"`
			EndColumn       *int   `json:"end_column"`
			AnnotationLevel string `json:"annotation_level"`
			Message         string `json:"message"`
			Title           string `json:"title"`
			RawDetails      string `json:"raw_details"`
		} `json:"annotations"`
	} `json:"output"`
}

// checkLimits enforces GitHub's rules on a check-run body that the
// description does not carry; it answers and returns false on a breach.
func (c *call) checkLimits(b *checkRunBody) bool {
	invalid := func(reason string) bool {
		c.violation(http.StatusUnprocessableEntity, reason, "Invalid request.\n\n"+reason)
		return false
	}
	if b.Output != nil {
		if n := len(b.Output.Annotations); n > maxAnnotationsPerRequest {
			return invalid(fmt.Sprintf("No more than %d items are allowed; %d were supplied.", maxAnnotationsPerRequest, n))
		}
		texts := []string{b.Output.Summary}
		if b.Output.Text != nil {
			texts = append(texts, *b.Output.Text)
		}
		for _, t := range texts {
			if n := utf8.RuneCountInString(t); n > maxCheckRunText {
				return invalid(fmt.Sprintf("Only %d characters are allowed; %d were supplied.", maxCheckRunText, n))
			}
		}
		for _, a := range b.Output.Annotations {
			if a.EndLine < a.StartLine {
				return invalid("end_line must be greater than or equal to start_line")
			}
			if (a.StartColumn != nil || a.EndColumn != nil) && a.StartLine != a.EndLine {
				return invalid("start_column and end_column are only allowed when start_line and end_line are equal")
			}
		}
	}
	if b.Conclusion != nil && *b.Conclusion == "stale" {
		return invalid("conclusion stale can only be set by GitHub")
	}
	if b.Status != nil && *b.Status == "completed" && b.Conclusion == nil {
		return invalid("conclusion is required when status is completed")
	}
	if b.CompletedAt != nil && b.Conclusion == nil {
		return invalid("conclusion is required when completed_at is given")
	}
	return true
}

// apply records a create or update on the run. Callers hold s.mu.
func (c *call) apply(run *CheckRun, b *checkRunBody) {
	now := c.s.now().UTC().Format(time.RFC3339)
	if b.Name != nil {
		run.Name = *b.Name
	}
	if b.DetailsURL != nil {
		run.DetailsURL = *b.DetailsURL
	}
	if b.ExternalID != nil {
		run.ExternalID = *b.ExternalID
	}
	if b.Status != nil {
		run.Status = *b.Status
	}
	if b.Conclusion != nil {
		run.Conclusion, run.Status = *b.Conclusion, "completed"
	}
	if b.StartedAt != nil {
		run.StartedAt = *b.StartedAt
	} else if run.StartedAt == "" {
		run.StartedAt = now
	}
	if b.CompletedAt != nil {
		run.CompletedAt = *b.CompletedAt
	} else if run.Status == "completed" && run.CompletedAt == "" {
		run.CompletedAt = now
	}
	if b.Output != nil {
		run.Output.Title, run.Output.Summary = b.Output.Title, b.Output.Summary
		if b.Output.Text != nil {
			run.Output.Text = *b.Output.Text
		}
		for _, a := range b.Output.Annotations {
			ann := Annotation{Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine, AnnotationLevel: a.AnnotationLevel, Message: a.Message, Title: a.Title, RawDetails: a.RawDetails}
			if a.StartColumn != nil {
				ann.StartColumn = *a.StartColumn
			}
			if a.EndColumn != nil {
				ann.EndColumn = *a.EndColumn
			}
			run.Annotations = append(run.Annotations, ann)
		}
	}
	run.Requests++
	run.Transitions = append(run.Transitions, Transition{Status: run.Status, Conclusion: run.Conclusion})
}

// createCheckRun answers POST /repos/{owner}/{repo}/check-runs.
func (c *call) createCheckRun() {
	var b checkRunBody
	if !c.decode(&b) || !c.checkLimits(&b) {
		return
	}
	if _, ok := c.commitExists(b.HeadSHA); !ok {
		c.violation(http.StatusUnprocessableEntity, "head_sha is not a commit of the repository", "No commit found for SHA: "+b.HeadSHA)
		return
	}
	s := c.s
	s.mu.Lock()
	s.nextID++
	run := &CheckRun{ID: s.nextID, Repo: c.repo.FullName(), HeadSHA: b.HeadSHA, Status: "queued"}
	c.apply(run, &b)
	s.checkRuns = append(s.checkRuns, run)
	out := *run
	s.mu.Unlock()
	c.respond(http.StatusCreated, c.checkRunJSON(&out))
}

// updateCheckRun answers PATCH /repos/{owner}/{repo}/check-runs/{id}.
func (c *call) updateCheckRun() {
	var b checkRunBody
	if !c.decode(&b) || !c.checkLimits(&b) {
		return
	}
	s := c.s
	s.mu.Lock()
	run := s.checkRun(c.repo, c.intParam("check_run_id"))
	if run == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.apply(run, &b)
	out := *run
	s.mu.Unlock()
	c.respond(http.StatusOK, c.checkRunJSON(&out))
}

// checkRun finds a run of the repository. Callers hold s.mu.
func (s *Server) checkRun(repo *Repo, id int64) *CheckRun {
	for _, r := range s.checkRuns {
		if r.ID == id && strings.EqualFold(r.Repo, repo.FullName()) {
			return r
		}
	}
	return nil
}

// listCheckRunsForRef answers GET /repos/{owner}/{repo}/commits/{ref}/check-runs.
func (c *call) listCheckRunsForRef() {
	sha, ok := c.repo.resolveRef(c.r.Context(), c.param("ref"))
	if !ok {
		c.fail(http.StatusUnprocessableEntity, "No commit found for SHA: "+c.param("ref"))
		return
	}
	q := c.r.URL.Query()
	s := c.s
	s.mu.Lock()
	var runs []CheckRun
	latest := map[string]int{}
	for _, r := range s.checkRuns {
		if !strings.EqualFold(r.Repo, c.repo.FullName()) || r.HeadSHA != sha {
			continue
		}
		if name := q.Get("check_name"); name != "" && r.Name != name {
			continue
		}
		if st := q.Get("status"); st != "" && r.Status != st {
			continue
		}
		if q.Get("filter") != "all" {
			if i, seen := latest[r.Name]; seen {
				runs[i] = *r
				continue
			}
			latest[r.Name] = len(runs)
		}
		runs = append(runs, *r)
	}
	s.mu.Unlock()
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID > runs[j].ID })
	list := []any{}
	for _, r := range paginate(c, runs) {
		list = append(list, c.checkRunJSON(&r))
	}
	c.respond(http.StatusOK, obj{"total_count": len(runs), "check_runs": list})
}

// listAnnotations answers GET .../check-runs/{check_run_id}/annotations.
func (c *call) listAnnotations() {
	s := c.s
	s.mu.Lock()
	run := s.checkRun(c.repo, c.intParam("check_run_id"))
	var anns []Annotation
	if run != nil {
		anns = append(anns, run.Annotations...)
	}
	s.mu.Unlock()
	if run == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	list := []any{}
	for _, a := range paginate(c, anns) {
		item := obj{
			"path":             a.Path,
			"blob_href":        c.s.srv.URL + "/" + run.Repo + "/blob/" + run.HeadSHA + "/" + a.Path,
			"start_line":       a.StartLine,
			"end_line":         a.EndLine,
			"start_column":     nil,
			"end_column":       nil,
			"annotation_level": a.AnnotationLevel,
			"title":            a.Title,
			"message":          a.Message,
			"raw_details":      a.RawDetails,
		}
		if a.StartColumn != 0 {
			item["start_column"] = a.StartColumn
		}
		if a.EndColumn != 0 {
			item["end_column"] = a.EndColumn
		}
		list = append(list, item)
	}
	c.respond(http.StatusOK, list)
}

// checkRunJSON renders a check run.
func (c *call) checkRunJSON(r *CheckRun) obj {
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	out := obj{
		"id":           r.ID,
		"node_id":      nodeID("CheckRun", r.ID),
		"head_sha":     r.HeadSHA,
		"external_id":  r.ExternalID,
		"url":          c.apiURL("repos/%s/check-runs/%d", r.Repo, r.ID),
		"html_url":     c.s.srv.URL + "/" + r.Repo + "/runs/" + itoa(int(r.ID)),
		"details_url":  nullable(r.DetailsURL),
		"status":       r.Status,
		"conclusion":   nullable(r.Conclusion),
		"started_at":   nullable(r.StartedAt),
		"completed_at": nullable(r.CompletedAt),
		"name":         r.Name,
		"output": obj{
			"title":             nullable(r.Output.Title),
			"summary":           nullable(r.Output.Summary),
			"text":              nullable(r.Output.Text),
			"annotations_count": len(r.Annotations),
			"annotations_url":   c.apiURL("repos/%s/check-runs/%d/annotations", r.Repo, r.ID),
		},
		"check_suite":   obj{"id": r.ID + 1_000_000},
		"app":           c.appJSON(),
		"pull_requests": c.pullsForSHA(r.Repo, r.HeadSHA),
	}
	return out
}

// pullsForSHA lists the open same-repository pull requests whose head is
// sha, in the short form check runs carry (GitHub leaves out forks).
func (c *call) pullsForSHA(repo, sha string) []any {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, p := range s.pulls[strings.ToLower(repo)] {
		if p.HeadSHA != sha || p.head != p.repo || p.State != "open" {
			continue
		}
		ref := func(name, sha string) obj {
			return obj{"ref": name, "sha": sha, "repo": obj{"id": p.repo.id, "url": c.apiURL("repos/%s", p.repo.FullName()), "name": p.repo.name}}
		}
		out = append(out, obj{
			"id":     p.id,
			"number": p.Number,
			"url":    c.apiURL("repos/%s/pulls/%d", p.repo.FullName(), p.Number),
			"head":   ref(p.HeadRef, p.HeadSHA),
			"base":   ref(p.BaseRef, p.BaseSHA),
		})
	}
	return out
}

// commitExists reports whether sha is a full commit sha of the repository.
func (c *call) commitExists(sha string) (string, bool) {
	if !shaPattern.MatchString(sha) {
		return "", false
	}
	got, err := c.repo.resolve(c.r.Context(), sha)
	return got, err == nil && got == sha
}
