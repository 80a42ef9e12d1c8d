// Package api serves gatehouse's evidence over HTTP: the read-only evidence
// API under /api/v1 (bearer tokens from GATEHOUSE_API_TOKENS; see
// docs/api.md), signed attestations and the keys that verify them among
// it, and the check runs' details pages at /v/{id}, whose unguessable
// record id is their only credential.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/evidence"
)

// Config wires the API.
type Config struct {
	// Evidence reads the records.
	Evidence *evidence.Recorder
	// Tokens are the bearer tokens the API accepts. With none the API is
	// off: its paths are not registered and answer 404.
	Tokens []string
	// Details serves the details pages (when GATEHOUSE_PUBLIC_URL is set).
	Details bool
	Logger  *slog.Logger
}

// Paths the API registers.
const (
	Prefix      = "/api/v1"
	DetailsRoot = "/v/"
)

// DetailsURL is the details page of a record under the server's public
// URL ("https://gatehouse.example.com").
func DetailsURL(publicURL, id string) string {
	return strings.TrimRight(publicURL, "/") + DetailsRoot + id
}

// ParseTokens reads GATEHOUSE_API_TOKENS: comma-separated tokens, spaces
// around them ignored, empty entries dropped.
func ParseTokens(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Register adds the API's routes to r: /api/v1/… when tokens are
// configured, /v/{id} when details pages are on.
func Register(r gin.IRouter, cfg Config) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handlers{ev: cfg.Evidence, log: cfg.Logger}
	var tokens []string
	for _, t := range cfg.Tokens {
		if strings.TrimSpace(t) != "" {
			tokens = append(tokens, strings.TrimSpace(t))
		}
	}
	if len(tokens) > 0 {
		g := r.Group(Prefix, bearer(tokens))
		g.GET("/verdicts", h.listVerdicts)
		g.GET("/verdicts/:id", h.getVerdict)
		g.GET("/verdicts/:id/attestation", h.verdictAttestation)
		g.GET("/verdicts/:id/attestations", h.verdictAttestations)
		g.GET("/keys", h.keys)
		g.GET("/sbom/:owner/:repo/:sha", h.commitSBOM)
		g.GET("/chain", h.chain)
	}
	if cfg.Details {
		r.GET(DetailsRoot+":id", h.detailsPage)
		r.GET(DetailsRoot+":id/sbom.cdx.json", h.detailsSBOM)
		r.GET(DetailsRoot+":id/attestations.intoto.jsonl", h.detailsAttestations)
	}
}

type handlers struct {
	ev  *evidence.Recorder
	log *slog.Logger
}

// bearer accepts a request whose Authorization header carries one of the
// tokens. Each candidate is compared with every token, in constant time
// over their SHA-256 digests, so neither which token matched nor how much
// of one did shows in the timing.
func bearer(tokens []string) gin.HandlerFunc {
	sums := make([][32]byte, len(tokens))
	for i, t := range tokens {
		sums[i] = sha256.Sum256([]byte(t))
	}
	return func(c *gin.Context) {
		scheme, tok, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		match := 0
		for i := range sums {
			match |= subtle.ConstantTimeCompare(got[:], sums[i][:])
		}
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" || match != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="gatehouse"`)
			problem(c, http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)")
			c.Abort()
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}

// writeJSON answers v as JSON without HTML escaping, so a record's bytes
// leave exactly as they were hashed.
func writeJSON(c *gin.Context, status int, v any) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		problem(c, http.StatusInternalServerError, "could not encode the answer")
		return
	}
	c.Data(status, "application/json; charset=utf-8", []byte(b.String()))
}

// problem answers an error as {"error": "…"}.
func problem(c *gin.Context, status int, msg string) {
	c.JSON(status, gin.H{"error": msg})
}

// internal logs an unexpected error and answers 500 without its details.
func (h *handlers) internal(c *gin.Context, what string, err error) {
	h.log.Error("evidence API: "+what, slog.String("path", c.FullPath()), slog.String("error", err.Error()))
	problem(c, http.StatusInternalServerError, what+" failed")
}
