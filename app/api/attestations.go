package api

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/evidence"
)

// Media types of signed attestations.
const (
	// DSSEType is a single DSSE envelope.
	DSSEType = "application/vnd.dsse.envelope.v1+json"
	// BundleType is in-toto's JSON Lines bundle: one envelope a line.
	BundleType = "application/jsonl"
)

// keys answers GET /api/v1/keys: every public key attestations were
// signed with, newest first.
func (h *handlers) keys(c *gin.Context) {
	ks, err := h.ev.SigningKeys(c.Request.Context())
	if err != nil {
		h.internal(c, "listing the signing keys", err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"keys": ks})
}

// verdictAttestation answers GET /api/v1/verdicts/{id}/attestation: the
// verdict's DSSE envelope, as signed.
func (h *handlers) verdictAttestation(c *gin.Context) {
	as, ok := h.attestations(c)
	if !ok {
		return
	}
	for _, a := range as {
		if a.PredicateType == evidence.VerdictPredicateType {
			c.Header("X-Gatehouse-Key-Id", a.KeyID)
			c.Data(http.StatusOK, DSSEType, append(a.Envelope, '\n'))
			return
		}
	}
	problem(c, http.StatusNotFound, "this verdict was recorded without a signing key: it has no attestation")
}

// verdictAttestations answers GET /api/v1/verdicts/{id}/attestations:
// every envelope of the verdict, each with its predicate type.
func (h *handlers) verdictAttestations(c *gin.Context) {
	as, ok := h.attestations(c)
	if !ok {
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"attestations": as})
}

// attestations reads the attestations of the verdict the path names, or
// answers the error and returns false.
func (h *handlers) attestations(c *gin.Context) ([]evidence.Attestation, bool) {
	as, err := h.ev.Attestations(c.Request.Context(), c.Param("id"))
	switch {
	case errors.Is(err, evidence.ErrNotFound):
		problem(c, http.StatusNotFound, "no verdict with this id")
		return nil, false
	case err != nil:
		h.internal(c, "reading the attestations", err)
		return nil, false
	}
	return as, true
}

// detailsAttestations answers GET /v/{id}/attestations.intoto.jsonl: the
// verdict's envelopes as an in-toto bundle, behind the details page's
// unguessable address (a check run's Details link leads there).
func (h *handlers) detailsAttestations(c *gin.Context) {
	pageHeaders(c)
	as, err := h.ev.Attestations(c.Request.Context(), c.Param("id"))
	if err != nil && !errors.Is(err, evidence.ErrNotFound) {
		h.internal(c, "reading the attestations", err)
		return
	}
	if len(as) == 0 {
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("No signed attestation is recorded at this address.\n"))
		return
	}
	var b bytes.Buffer
	for _, a := range as {
		b.Write(a.Envelope)
		b.WriteByte('\n')
	}
	c.Header("Cache-Control", "private, max-age=3600")
	c.Data(http.StatusOK, BundleType, b.Bytes())
}
