package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// NewAttestation is a signed attestation to store beside the record being
// appended (NewEvidence.Attest).
type NewAttestation struct {
	PredicateType string
	KeyID         string
	EnvelopeGzip  []byte // the DSSE envelope's JSON, gzip-compressed
}

// EvidenceAttestation is a stored attestation of a record.
type EvidenceAttestation struct {
	RecordID      string
	PredicateType string
	KeyID         string
	EnvelopeGzip  []byte
}

// SigningKey is a public key attestations were signed with.
type SigningKey struct {
	KeyID     string // hex SHA-256 of the DER SubjectPublicKeyInfo
	Algorithm string
	PublicKey string // PEM
	AddedAt   time.Time
}

// insertAttestations stores a record's attestations (inside
// AppendEvidence's transaction).
func (q Queries) insertAttestations(ctx context.Context, recordID string, as []NewAttestation) error {
	for _, a := range as {
		if _, err := q.db.exec(ctx, `INSERT INTO evidence_attestations (record_id, predicate_type, key_id, envelope_gzip)
			VALUES ($1, $2, $3, $4)`, recordID, a.PredicateType, a.KeyID, a.EnvelopeGzip); err != nil {
			return fmt.Errorf("store %s attestation of evidence %s: %w", a.PredicateType, recordID, err)
		}
	}
	return nil
}

// EvidenceAttestations returns the attestations of the given records,
// grouped by record in the order the ids are given, each record's in the
// order they were signed (the verdict first).
func (q Queries) EvidenceAttestations(ctx context.Context, recordIDs ...string) ([]EvidenceAttestation, error) {
	if len(recordIDs) == 0 {
		return nil, nil
	}
	ph := make([]string, len(recordIDs))
	args := make([]any, len(recordIDs))
	for i, id := range recordIDs {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	rs, err := q.db.query(ctx, `SELECT record_id, predicate_type, key_id, envelope_gzip FROM evidence_attestations
		WHERE record_id IN (`+strings.Join(ph, ", ")+`) ORDER BY pos`, args...)
	if err != nil {
		return nil, fmt.Errorf("read attestations: %w", err)
	}
	defer rs.Close()
	byRecord := map[string][]EvidenceAttestation{}
	for rs.Next() {
		var a EvidenceAttestation
		if err := rs.Scan(&a.RecordID, &a.PredicateType, &a.KeyID, &a.EnvelopeGzip); err != nil {
			return nil, fmt.Errorf("read attestations: %w", err)
		}
		byRecord[a.RecordID] = append(byRecord[a.RecordID], a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read attestations: %w", err)
	}
	var out []EvidenceAttestation
	for _, id := range recordIDs {
		out = append(out, byRecord[id]...)
		delete(byRecord, id) // an id given twice is listed once
	}
	return out, nil
}

// AddEvidenceSigningKey lists a public key, unless it is listed already;
// it reports whether it added it.
func (q Queries) AddEvidenceSigningKey(ctx context.Context, k SigningKey) (bool, error) {
	n, err := q.db.exec(ctx, `INSERT INTO evidence_signing_keys (key_id, algorithm, public_key, added_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING`, k.KeyID, k.Algorithm, k.PublicKey, k.AddedAt.UTC())
	if err != nil {
		return false, fmt.Errorf("list signing key %s: %w", k.KeyID, err)
	}
	return n > 0, nil
}

// EvidenceSigningKeys lists every signing key, newest first.
func (q Queries) EvidenceSigningKeys(ctx context.Context) ([]SigningKey, error) {
	rs, err := q.db.query(ctx, `SELECT key_id, algorithm, public_key, added_at FROM evidence_signing_keys ORDER BY added_at DESC, key_id`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rs.Close()
	var out []SigningKey
	for rs.Next() {
		var k SigningKey
		if err := rs.Scan(&k.KeyID, &k.Algorithm, &k.PublicKey, &k.AddedAt); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
		k.AddedAt = k.AddedAt.UTC()
		out = append(out, k)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}
