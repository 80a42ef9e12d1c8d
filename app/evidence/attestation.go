package evidence

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/store"
)

// Predicate types of the statements gatehouse signs.
const (
	// VerdictPredicateType identifies a VerdictPredicate (docs/api.md,
	// "Signed attestations").
	VerdictPredicateType = "https://github.com/gatehouse/gatehouse/attestation/verdict/v1"
	// SBOMPredicateType is CycloneDX's: the predicate is the SBOM itself.
	SBOMPredicateType = "https://cyclonedx.org/bom"
)

// maxEnvelope bounds an envelope read back from the store (uncompressed):
// an SBOM's, base64 in JSON, is about 4/3 of the SBOM.
const maxEnvelope = maxSBOM/3*4 + 1<<20

// VerdictPredicate is the predicate of a verdict's statement: the decision
// and what it rests on, copied from the evidence record (the same redacted
// findings, no policy content), and the record's id and hash, which tie the
// attestation to the evidence chain.
type VerdictPredicate struct {
	Evidence  EvidenceRef `json:"evidence"`
	Decision  string      `json:"decision"` // overall: failure, neutral, success or skipped
	Checks    []Check     `json:"checks"`
	Policy    PolicyRef   `json:"policy"`
	VulnDB    *VulnDB     `json:"vulnerability_db,omitempty"`
	SBOM      *SBOM       `json:"sbom,omitempty"`
	Event     Event       `json:"event"`
	Commit    Commit      `json:"commit"`
	Gatehouse string      `json:"gatehouse_version,omitempty"`
	Timings   Timings     `json:"timings"`
}

// EvidenceRef names the evidence record a predicate was made from.
type EvidenceRef struct {
	ID         string    `json:"id"`
	Hash       string    `json:"hash"` // SHA-256 of the record's canonical JSON
	Schema     int       `json:"schema"`
	Repository string    `json:"repository"`
	Seq        int64     `json:"seq"`
	PrevHash   string    `json:"prev_hash"`
	RecordedAt time.Time `json:"recorded_at"`
}

// PolicyRef is the policy a verdict applied: its hash and layers (the
// content itself is in the record).
type PolicyRef struct {
	SHA256  string   `json:"sha256,omitempty"`
	Sources []string `json:"sources"`
}

// NewVerdictPredicate is the predicate of a record with the given hash.
func NewVerdictPredicate(rec *Record, hash string) VerdictPredicate {
	return VerdictPredicate{
		Evidence: EvidenceRef{
			ID: rec.ID, Hash: hash, Schema: rec.Schema, Repository: rec.Repository, Seq: rec.Seq,
			PrevHash: rec.PrevHash, RecordedAt: rec.RecordedAt,
		},
		Decision: rec.Decision, Checks: rec.Checks,
		Policy: PolicyRef{SHA256: rec.Policy.SHA256, Sources: rec.Policy.Sources},
		VulnDB: rec.VulnDB, SBOM: rec.SBOM, Event: rec.Event, Commit: rec.Commit, Gatehouse: rec.Gatehouse, Timings: rec.Timings,
	}
}

// SubjectName is a repository as an in-toto subject names it:
// "git+https://github.com/OWNER/REPO" (the web URL of the GitHub server).
func SubjectName(webURL, repo string) string {
	if webURL == "" {
		webURL = "https://github.com/"
	}
	return "git+" + strings.TrimRight(webURL, "/") + "/" + repo
}

// subject is what a record's statements are about: the judged commit.
func (r *Recorder) subject(rec *Record) []attest.Subject {
	return []attest.Subject{{
		Name:   SubjectName(r.webURL, rec.Repository),
		Digest: map[string]string{attest.DigestGitCommit: rec.Commit.Head},
	}}
}

// signStatement signs one statement about rec and makes it storable.
func (r *Recorder) signStatement(ctx context.Context, rec *Record, predicateType string, predicate []byte) (store.NewAttestation, error) {
	st := attest.Statement{Type: attest.StatementType, Subject: r.subject(rec), PredicateType: predicateType, Predicate: predicate}
	env, err := r.signer.Sign(ctx, st)
	if err != nil {
		return store.NewAttestation{}, err
	}
	gz, err := gzipBytes(env)
	if err != nil {
		return store.NewAttestation{}, err
	}
	return store.NewAttestation{PredicateType: predicateType, KeyID: r.signer.Public().KeyID, EnvelopeGzip: gz}, nil
}

// attestSBOM signs the SBOM's statement. It needs nothing the chain
// decides, so it is done before the transaction that appends the record,
// which a large SBOM would otherwise hold open while it is canonicalized.
func (r *Recorder) attestSBOM(ctx context.Context, rec *Record, sbom []byte) (*store.NewAttestation, error) {
	if len(sbom) == 0 {
		return nil, nil
	}
	a, err := r.signStatement(ctx, rec, SBOMPredicateType, sbom)
	if err != nil {
		return nil, fmt.Errorf("attest the SBOM: %w", err)
	}
	return &a, nil
}

// attest signs the verdict's statement once the record's hash is known
// (inside the transaction appending it) and returns it with the SBOM's.
func (r *Recorder) attest(ctx context.Context, rec *Record, hash string, sbom *store.NewAttestation) ([]store.NewAttestation, error) {
	pred, err := json.Marshal(NewVerdictPredicate(rec, hash))
	if err != nil {
		return nil, fmt.Errorf("encode verdict predicate: %w", err)
	}
	a, err := r.signStatement(ctx, rec, VerdictPredicateType, pred)
	if err != nil {
		return nil, fmt.Errorf("attest the verdict: %w", err)
	}
	out := []store.NewAttestation{a}
	if sbom != nil {
		out = append(out, *sbom)
	}
	return out, nil
}

// Attestation is a signed statement about a record: a DSSE envelope,
// exactly as signed.
type Attestation struct {
	PredicateType string          `json:"predicate_type"`
	KeyID         string          `json:"keyid"`
	Envelope      json.RawMessage `json:"envelope"`
}

// Attestations returns a record's attestations, the verdict's first. A
// record written without a signing key has none (an empty list); an
// unknown record gives an error wrapping ErrNotFound.
func (r *Recorder) Attestations(ctx context.Context, id string) ([]Attestation, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("attestations of evidence %q: %w", id, ErrNotFound)
	}
	if _, err := r.st.GetEvidence(ctx, id); err != nil {
		return nil, err
	}
	rows, err := r.st.EvidenceAttestations(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []Attestation{}
	for _, a := range rows {
		env, err := gunzipMax(a.EnvelopeGzip, maxEnvelope, "envelope")
		if err != nil {
			return nil, fmt.Errorf("attestation of evidence %s: %w", id, err)
		}
		out = append(out, Attestation{PredicateType: a.PredicateType, KeyID: a.KeyID, Envelope: env})
	}
	return out, nil
}

// SigningKey is a public key attestations were signed with.
type SigningKey struct {
	KeyID     string    `json:"keyid"`
	Algorithm string    `json:"algorithm"`
	PublicKey string    `json:"public_key"` // PEM
	AddedAt   time.Time `json:"added_at"`   // when gatehouse first signed with it
}

// SigningKeys lists every key attestations were signed with, newest first:
// a rotated key stays listed, so what it signed still verifies.
func (r *Recorder) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := r.st.EvidenceSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []SigningKey{}
	for _, k := range rows {
		out = append(out, SigningKey{KeyID: k.KeyID, Algorithm: k.Algorithm, PublicKey: k.PublicKey, AddedAt: k.AddedAt})
	}
	return out, nil
}

// registerKey lists the signer's public key (once per key).
func (r *Recorder) registerKey(ctx context.Context) error {
	pub := r.signer.Public()
	_, err := r.st.AddEvidenceSigningKey(ctx, store.SigningKey{
		KeyID: pub.KeyID, Algorithm: string(pub.Algorithm), PublicKey: pub.PEM, AddedAt: micro(r.now()),
	})
	return err
}

// ExportAttestations writes the attestations of the records f selects as
// JSON lines, oldest record first, one DSSE envelope a line (in-toto's
// bundle format, which cosign and in-toto's tools read). It returns how
// many envelopes it wrote.
func (r *Recorder) ExportAttestations(ctx context.Context, w io.Writer, f ExportFilter) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	var after int64
	for {
		rows, err := r.st.ListEvidence(ctx, store.EvidenceFilter{Repo: f.Repo, Since: f.Since, After: after, Ascending: true, Limit: exportBatch})
		if err != nil {
			return n, err
		}
		ids := make([]string, len(rows))
		for i, e := range rows {
			ids[i] = e.ID
			after = e.Pos
		}
		as, err := r.st.EvidenceAttestations(ctx, ids...)
		if err != nil {
			return n, err
		}
		for _, a := range as {
			env, err := gunzipMax(a.EnvelopeGzip, maxEnvelope, "envelope")
			if err != nil {
				return n, fmt.Errorf("attestation of evidence %s: %w", a.RecordID, err)
			}
			if _, err := bw.Write(append(env, '\n')); err != nil {
				return n, fmt.Errorf("export attestations: %w", err)
			}
			n++
		}
		if len(rows) < exportBatch {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export attestations: %w", err)
	}
	return n, nil
}
