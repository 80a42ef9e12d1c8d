package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func TestEvidenceAttestationsCommitWithTheirRecord(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		e := newEvidence("a1", "acme/widgets", "sha1", "success", t0, nil)
		var attestedHash string
		e.Attest = func(rec store.EvidenceRecord) ([]store.NewAttestation, error) {
			attestedHash = rec.Hash
			return []store.NewAttestation{
				{PredicateType: "verdict", KeyID: "k1", EnvelopeGzip: []byte("env-1")},
				{PredicateType: "sbom", KeyID: "k1", EnvelopeGzip: []byte("env-2")},
			}, nil
		}
		recs := appendAll(t, s, e, newEvidence("b1", "acme/widgets", "sha2", "success", t0, nil))
		if attestedHash != recs[0].Hash {
			t.Errorf("Attest saw hash %q, want the record's %q", attestedHash, recs[0].Hash)
		}
		got, err := s.EvidenceAttestations(ctx, "b1", "a1", "a1", "none")
		if err != nil || len(got) != 2 || got[0].PredicateType != "verdict" || got[1].PredicateType != "sbom" ||
			string(got[1].EnvelopeGzip) != "env-2" || got[0].RecordID != "a1" || got[0].KeyID != "k1" {
			t.Errorf("EvidenceAttestations = %+v, %v", got, err)
		}
		// An attestation that cannot be made keeps the record out too.
		bad := newEvidence("c1", "acme/widgets", "sha3", "success", t0, nil)
		bad.Attest = func(store.EvidenceRecord) ([]store.NewAttestation, error) { return nil, errors.New("no key") }
		if _, _, err := s.AppendEvidence(ctx, bad); err == nil {
			t.Fatal("a failed attestation was ignored")
		}
		if _, err := s.GetEvidence(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the record of a failed attestation was stored: %v", err)
		}
		for _, q := range []string{
			`UPDATE evidence_attestations SET envelope_gzip = 'x'`,
			`UPDATE evidence_attestations SET key_id = 'other'`,
		} {
			if err := store.ExecForTest(ctx, s, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want an append-only refusal", q, err)
			}
		}
	})
}

func TestSigningKeysAreKept(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		old := store.SigningKey{KeyID: "old", Algorithm: "ed25519", PublicKey: "PEM-1", AddedAt: t0}
		fresh := store.SigningKey{KeyID: "new", Algorithm: "ecdsa-p256-sha256", PublicKey: "PEM-2", AddedAt: t0.Add(time.Hour)}
		for _, k := range []store.SigningKey{old, fresh} {
			if added, err := s.AddEvidenceSigningKey(ctx, k); err != nil || !added {
				t.Fatalf("add %s: %v, %v", k.KeyID, added, err)
			}
		}
		again := old
		again.AddedAt = t0.Add(2 * time.Hour)
		if added, err := s.AddEvidenceSigningKey(ctx, again); err != nil || added {
			t.Errorf("adding a listed key again: %v, %v", added, err)
		}
		ks, err := s.EvidenceSigningKeys(ctx)
		if err != nil || len(ks) != 2 || ks[0] != fresh || ks[1] != old {
			t.Errorf("EvidenceSigningKeys = %+v, %v; want the new key, then the old one as first added", ks, err)
		}
		for _, q := range []string{
			`DELETE FROM evidence_signing_keys WHERE key_id = 'old'`,
			`UPDATE evidence_signing_keys SET public_key = 'forged'`,
		} {
			if err := store.ExecForTest(ctx, s, q); err == nil {
				t.Errorf("%s: allowed", q)
			}
		}
		if ks, _ := s.EvidenceSigningKeys(ctx); len(ks) != 2 || ks[1].PublicKey != "PEM-1" {
			t.Errorf("keys after the refused statements: %+v", ks)
		}
	})
}
