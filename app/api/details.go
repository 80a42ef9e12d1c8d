package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// pageHeaders lock a details page down: it loads nothing, cannot be
// framed, and (its URL being its credential) never sends a Referer or
// gets indexed.
func pageHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Robots-Tag", "noindex, nofollow")
}

// detailsPage answers GET /v/{id}: the recorded verdict as HTML.
func (h *handlers) detailsPage(c *gin.Context) {
	pageHeaders(c)
	s, err := h.ev.Get(c.Request.Context(), c.Param("id"))
	if errors.Is(err, evidence.ErrNotFound) {
		// A scan in progress records its verdict when it completes.
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8",
			[]byte("No verdict is recorded at this address (yet): a scan still running records its verdict when it completes.\n"))
		return
	}
	if err != nil {
		h.internal(c, "reading the verdict", err)
		return
	}
	// Relative, so the links work behind a proxy that adds a path prefix.
	d := detailsData(s, s.Record.ID+"/sbom.cdx.json")
	as, err := h.ev.Attestations(c.Request.Context(), s.Record.ID)
	if err != nil {
		h.internal(c, "reading the attestations", err)
		return
	}
	if len(as) > 0 {
		d.AttestationsURL, d.SigningKeyID = s.Record.ID+"/attestations.intoto.jsonl", as[0].KeyID
	}
	page, err := templates.Details(d)
	if err != nil {
		h.internal(c, "rendering the details page", err)
		return
	}
	c.Header("Cache-Control", "private, max-age=3600") // records never change
	c.Data(http.StatusOK, "text/html; charset=utf-8", page)
}

// detailsSBOM answers GET /v/{id}/sbom.cdx.json: the SBOM stored beside
// the record.
func (h *handlers) detailsSBOM(c *gin.Context) {
	pageHeaders(c)
	doc, err := h.ev.SBOM(c.Request.Context(), c.Param("id"))
	if errors.Is(err, evidence.ErrNotFound) {
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("No SBOM is recorded at this address.\n"))
		return
	}
	if err != nil {
		h.internal(c, "reading the SBOM", err)
		return
	}
	c.Header("Cache-Control", "private, max-age=3600")
	c.Data(http.StatusOK, CycloneDXType, doc)
}

// detailsData is what the page shows of a record.
func detailsData(s *evidence.Stored, sbomURL string) templates.DetailsData {
	r := s.Record
	d := templates.DetailsData{
		ID: r.ID, Repository: r.Repository, Kind: r.Event.Kind, PRNumber: r.Event.PullRequest, DeliveryID: r.Event.DeliveryID,
		Trigger: r.Event.Trigger, HeadSHA: r.Commit.Head, BaseSHA: r.Commit.Base, HeadRef: r.Commit.HeadRef,
		Decision: r.Decision, RecordedAt: r.RecordedAt, Version: r.Gatehouse,
		PolicySHA256: r.Policy.SHA256, PolicySources: r.Policy.Sources, PolicyContent: r.Policy.Content,
		Seq: r.Seq, Hash: s.Hash, PrevHash: r.PrevHash,
		Duration: time.Duration(r.Timings.DurationMS) * time.Millisecond,
	}
	if r.VulnDB != nil {
		d.DBUpdatedAt = r.VulnDB.UpdatedAt
	}
	if dep := r.Deployment; dep != nil {
		d.Deployment = &templates.DetailsDeployment{Environment: dep.Environment, State: dep.State, WorkflowRun: dep.WorkflowRun, Overlay: dep.Overlay, FromKind: dep.FromKind}
	}
	if b := r.SBOM; b != nil {
		d.SBOM = &templates.DetailsSBOM{URL: sbomURL, SpecVersion: b.SpecVersion, Components: b.Components, SHA256: b.SHA256, Error: b.Error}
	}
	for _, c := range r.Checks {
		dc := templates.DetailsCheck{
			Name: c.Name, Mode: c.Mode, Conclusion: c.Conclusion, Title: c.Title, Error: c.Error,
			Engine: c.Engine, Scope: c.Scope, Notes: c.Notes,
		}
		for _, f := range c.Findings {
			dc.Findings = append(dc.Findings, checks.Evaluated{
				Finding: finding(c.Name, f), Status: checks.Status(f.Status), Blocking: f.Blocking, Reason: f.Reason,
			})
		}
		for _, x := range c.Exceptions {
			dc.Exceptions = append(dc.Exceptions, checks.Suppressed{Finding: finding(c.Name, x.Finding), Reason: x.Reason})
		}
		d.Checks = append(d.Checks, dc)
	}
	return d
}

func finding(check string, f evidence.Finding) checks.Finding {
	sev, _ := checks.ParseSeverity(f.Severity)
	return checks.Finding{
		Check: check, RuleID: f.RuleID, Severity: sev, Title: f.Title, Message: f.Message, File: f.File,
		StartLine: f.StartLine, EndLine: f.EndLine, Commit: f.Commit, Match: f.Match, Fingerprint: f.Fingerprint,
		Remediation: checks.Remediation{URL: f.URL, Package: f.Package, InstalledVersion: f.Installed, FixedVersion: f.Fixed},
	}
}
