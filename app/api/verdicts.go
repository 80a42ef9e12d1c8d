package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/evidence"
)

// CycloneDXType is the media type SBOMs are served with.
const CycloneDXType = "application/vnd.cyclonedx+json"

// listVerdicts answers GET /api/v1/verdicts?repo=&sha=&since=&decision=&cursor=&limit=.
func (h *handlers) listVerdicts(c *gin.Context) {
	q := evidence.Query{Decision: c.Query("decision"), Cursor: c.Query("cursor")}
	if r := c.Query("repo"); r != "" {
		if !validRepo(r) {
			problem(c, http.StatusBadRequest, "repo must be OWNER/NAME")
			return
		}
		q.Repo = r
	}
	if s := c.Query("sha"); s != "" {
		if !validSHA(s) {
			problem(c, http.StatusBadRequest, "sha must be a full commit id (40 or 64 hex digits)")
			return
		}
		q.SHA = strings.ToLower(s)
	}
	if s := c.Query("since"); s != "" {
		t, err := parseSince(s)
		if err != nil {
			problem(c, http.StatusBadRequest, "since must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)")
			return
		}
		q.Since = t
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > evidence.MaxPageSize {
			problem(c, http.StatusBadRequest, "limit must be between 1 and "+strconv.Itoa(evidence.MaxPageSize))
			return
		}
		q.Limit = n
	}
	page, err := h.ev.List(c.Request.Context(), q)
	switch {
	case errors.Is(err, evidence.ErrBadQuery):
		problem(c, http.StatusBadRequest, err.Error())
	case err != nil:
		h.internal(c, "listing verdicts", err)
	default:
		writeJSON(c, http.StatusOK, page)
	}
}

// getVerdict answers GET /api/v1/verdicts/{id}: the whole record and its
// hash.
func (h *handlers) getVerdict(c *gin.Context) {
	s, err := h.ev.Get(c.Request.Context(), c.Param("id"))
	switch {
	case errors.Is(err, evidence.ErrNotFound):
		problem(c, http.StatusNotFound, "no verdict with this id")
	case err != nil:
		h.internal(c, "reading the verdict", err)
	default:
		writeJSON(c, http.StatusOK, s.Envelope())
	}
}

// commitSBOM answers GET /api/v1/sbom/{owner}/{repo}/{sha}: the CycloneDX
// SBOM of the newest record of that commit that has one.
func (h *handlers) commitSBOM(c *gin.Context) {
	repo := c.Param("owner") + "/" + c.Param("repo")
	sha := c.Param("sha")
	if !validRepo(repo) || !validSHA(sha) {
		problem(c, http.StatusBadRequest, "want /api/v1/sbom/OWNER/NAME/SHA with a full commit id")
		return
	}
	id, doc, err := h.ev.CommitSBOM(c.Request.Context(), repo, strings.ToLower(sha))
	switch {
	case errors.Is(err, evidence.ErrNotFound):
		problem(c, http.StatusNotFound, "no SBOM recorded for this commit")
	case err != nil:
		h.internal(c, "reading the SBOM", err)
	default:
		c.Header("X-Gatehouse-Evidence-Id", id)
		c.Data(http.StatusOK, CycloneDXType, doc)
	}
}

// chain answers GET /api/v1/chain?repo=OWNER/NAME: the verification of the
// repository's evidence chain (200 with "ok": false when it is broken).
func (h *handlers) chain(c *gin.Context) {
	repo := c.Query("repo")
	if !validRepo(repo) {
		problem(c, http.StatusBadRequest, "repo=OWNER/NAME is required")
		return
	}
	v, err := h.ev.Verify(c.Request.Context(), repo)
	switch {
	case errors.Is(err, evidence.ErrNotFound):
		problem(c, http.StatusNotFound, "no evidence recorded for this repository")
	case err != nil:
		h.internal(c, "verifying the chain", err)
	default:
		writeJSON(c, http.StatusOK, v)
	}
}

// validRepo accepts GitHub's "owner/name": letters, digits and hyphens
// for the owner; letters, digits, ".", "-" and "_" for the name.
func validRepo(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" || len(owner) > 39 || len(name) > 100 || name == "." || name == ".." {
		return false
	}
	for _, c := range owner {
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	for _, c := range name {
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validSHA accepts a full SHA-1 or SHA-256 commit id.
func validSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}
