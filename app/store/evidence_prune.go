package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EvidencePrune is one retention prune of a repository's chain: records 1
// (or the previous anchor + 1) through ThroughSeq were deleted, and
// AnchorHash, the hash of record ThroughSeq, is what the oldest remaining
// record's prev_hash must be.
type EvidencePrune struct {
	Repo       string
	ThroughSeq int64
	AnchorHash string
	Records    int64
	PrunedAt   time.Time
}

// PruneEvidence deletes a repository's records created before cutoff, with
// their SBOMs and attestations, from the oldest end of its chain only: it
// stops at the first record created at or after cutoff, even if older ones
// follow it. The new anchor is recorded
// in the chain and in the prune log, so the shortened chain still verifies.
// It returns the prune, with Records 0 when nothing was old enough.
func (s *Store) PruneEvidence(ctx context.Context, repo string, cutoff, now time.Time) (EvidencePrune, error) {
	var p EvidencePrune
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		p, err = tx.pruneEvidence(ctx, strings.ToLower(repo), cutoff.UTC(), now.UTC())
		return err
	})
	return p, err
}

func (q Queries) pruneEvidence(ctx context.Context, repo string, cutoff, now time.Time) (EvidencePrune, error) {
	p := EvidencePrune{Repo: repo, PrunedAt: now}
	ch, err := q.lockEvidenceChain(ctx, repo)
	if err != nil {
		return p, err
	}
	var keep sql.NullInt64
	if err := q.db.queryRow(ctx, `SELECT min(seq) FROM evidence_records WHERE repo = $1 AND created_at >= $2`, repo, cutoff).
		Scan(&keep); err != nil {
		return p, fmt.Errorf("prune evidence of %s: %w", repo, err)
	}
	through := ch.HeadSeq
	if keep.Valid {
		through = keep.Int64 - 1
	}
	if through <= ch.AnchorSeq {
		p.ThroughSeq, p.AnchorHash = ch.AnchorSeq, ch.AnchorHash
		return p, nil
	}
	if err := q.db.queryRow(ctx, `SELECT hash FROM evidence_records WHERE repo = $1 AND seq = $2`, repo, through).
		Scan(&p.AnchorHash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return p, fmt.Errorf("prune evidence of %s: record %d is missing: the chain is broken, verify it first", repo, through)
		}
		return p, fmt.Errorf("prune evidence of %s: %w", repo, err)
	}
	p.ThroughSeq = through
	if _, err := q.db.exec(ctx, `DELETE FROM evidence_attestations WHERE record_id IN
		(SELECT id FROM evidence_records WHERE repo = $1 AND seq <= $2)`, repo, through); err != nil {
		return p, fmt.Errorf("prune attestations of %s: %w", repo, err)
	}
	if _, err := q.db.exec(ctx, `DELETE FROM evidence_sboms WHERE record_id IN
		(SELECT id FROM evidence_records WHERE repo = $1 AND seq <= $2)`, repo, through); err != nil {
		return p, fmt.Errorf("prune SBOMs of %s: %w", repo, err)
	}
	if p.Records, err = q.db.exec(ctx, `DELETE FROM evidence_records WHERE repo = $1 AND seq <= $2`, repo, through); err != nil {
		return p, fmt.Errorf("prune evidence of %s: %w", repo, err)
	}
	if _, err := q.db.exec(ctx, `UPDATE evidence_chains SET anchor_seq = $2, anchor_hash = $3 WHERE repo = $1`,
		repo, through, p.AnchorHash); err != nil {
		return p, fmt.Errorf("anchor evidence chain of %s: %w", repo, err)
	}
	if _, err := q.db.exec(ctx, `INSERT INTO evidence_prunes (repo, through_seq, anchor_hash, records, pruned_at)
		VALUES ($1, $2, $3, $4, $5)`, repo, through, p.AnchorHash, p.Records, now); err != nil {
		return p, fmt.Errorf("log evidence prune of %s: %w", repo, err)
	}
	return p, nil
}

// LatestEvidencePrune returns a repository's newest prune, or an error
// wrapping ErrNotFound when its chain was never pruned.
func (q Queries) LatestEvidencePrune(ctx context.Context, repo string) (EvidencePrune, error) {
	p := EvidencePrune{Repo: strings.ToLower(repo)}
	err := q.db.queryRow(ctx, `SELECT through_seq, anchor_hash, records, pruned_at FROM evidence_prunes
		WHERE repo = $1 ORDER BY id DESC LIMIT 1`, p.Repo).Scan(&p.ThroughSeq, &p.AnchorHash, &p.Records, &p.PrunedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return EvidencePrune{}, fmt.Errorf("evidence prunes of %s: %w", repo, ErrNotFound)
	}
	if err != nil {
		return EvidencePrune{}, fmt.Errorf("evidence prunes of %s: %w", repo, err)
	}
	p.PrunedAt = p.PrunedAt.UTC()
	return p, nil
}
