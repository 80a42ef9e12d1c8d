package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EvidenceRecord is one stored evidence record: the hashed bytes and the
// columns copied from them for lookups.
type EvidenceRecord struct {
	Pos       int64  // insertion order across repositories
	ID        string // 32 hex digits
	Repo      string // lower-cased "owner/name"
	Seq       int64  // 1, 2, 3… within the repository's chain
	Kind      string // pull_request, push, baseline
	HeadSHA   string
	BaseSHA   string
	Decision  string // overall conclusion
	CreatedAt time.Time
	Record    []byte // canonical JSON, exactly as hashed
	Hash      string // SHA-256 of Record, hex
	PrevHash  string // Hash of the previous record of Repo ("" for the first)
}

// NewEvidence is a record to append. The chain fields (Seq, PrevHash) are
// only known inside the transaction that appends, so Build makes the
// record's bytes once AppendEvidence knows them.
type NewEvidence struct {
	ID, Repo, Kind, HeadSHA, BaseSHA, Decision string
	CreatedAt                                  time.Time
	// Build returns the record's bytes and their hash for its place in the
	// chain.
	Build func(seq int64, prevHash string) (record []byte, hash string, err error)
	// SBOMGzip, when set, is stored beside the record.
	SBOMGzip []byte
	// Attest, when set, signs the record once it is built (its hash is
	// known then); the attestations it returns are stored in the same
	// transaction, so a record never exists without them.
	Attest func(rec EvidenceRecord) ([]NewAttestation, error)
}

// EvidenceChain is a repository's chain: its newest record and the last
// record retention pruned (AnchorSeq 0 when nothing was pruned).
type EvidenceChain struct {
	Repo       string
	HeadSeq    int64
	HeadHash   string
	AnchorSeq  int64
	AnchorHash string
}

// AppendEvidence appends a record to its repository's chain in a
// transaction of its own. A record whose ID is already stored is not
// appended again: the stored one is returned with false.
func (s *Store) AppendEvidence(ctx context.Context, e NewEvidence) (rec EvidenceRecord, inserted bool, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		rec, inserted, err = tx.AppendEvidence(ctx, e)
		return err
	})
	return rec, inserted, err
}

// AppendEvidence appends a record inside tx (see Store.AppendEvidence).
// The chain row is locked until tx ends, so concurrent appends to one
// repository line up instead of forking the chain.
func (tx *Tx) AppendEvidence(ctx context.Context, e NewEvidence) (EvidenceRecord, bool, error) {
	q := tx.Queries
	if e.ID == "" || e.Repo == "" || e.Build == nil {
		return EvidenceRecord{}, false, errors.New("append evidence: id, repo and build are required")
	}
	if old, err := q.GetEvidence(ctx, e.ID); err == nil {
		return old, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return EvidenceRecord{}, false, err
	}
	repo := strings.ToLower(e.Repo)
	ch, err := q.lockEvidenceChain(ctx, repo)
	if err != nil {
		return EvidenceRecord{}, false, err
	}
	rec := EvidenceRecord{
		ID: e.ID, Repo: repo, Seq: ch.HeadSeq + 1, Kind: e.Kind, HeadSHA: e.HeadSHA, BaseSHA: e.BaseSHA,
		Decision: e.Decision, CreatedAt: e.CreatedAt.UTC(), PrevHash: ch.HeadHash,
	}
	if rec.Record, rec.Hash, err = e.Build(rec.Seq, rec.PrevHash); err != nil {
		return EvidenceRecord{}, false, fmt.Errorf("append evidence %s: %w", e.ID, err)
	}
	err = q.db.queryRow(ctx, `INSERT INTO evidence_records
		(id, repo, seq, kind, head_sha, base_sha, decision, created_at, record, hash, prev_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING pos`,
		rec.ID, rec.Repo, rec.Seq, rec.Kind, rec.HeadSHA, rec.BaseSHA, rec.Decision, rec.CreatedAt,
		rec.Record, rec.Hash, rec.PrevHash).Scan(&rec.Pos)
	if err != nil {
		return EvidenceRecord{}, false, fmt.Errorf("append evidence %s to %s: %w", e.ID, repo, err)
	}
	if _, err := q.db.exec(ctx, `UPDATE evidence_chains SET head_seq = $2, head_hash = $3 WHERE repo = $1`,
		repo, rec.Seq, rec.Hash); err != nil {
		return EvidenceRecord{}, false, fmt.Errorf("advance evidence chain of %s: %w", repo, err)
	}
	if e.SBOMGzip != nil {
		if _, err := q.db.exec(ctx, `INSERT INTO evidence_sboms (record_id, sbom_gzip) VALUES ($1, $2)`,
			rec.ID, e.SBOMGzip); err != nil {
			return EvidenceRecord{}, false, fmt.Errorf("store SBOM of evidence %s: %w", e.ID, err)
		}
	}
	if e.Attest != nil {
		as, err := e.Attest(rec)
		if err != nil {
			return EvidenceRecord{}, false, fmt.Errorf("attest evidence %s: %w", e.ID, err)
		}
		if err := q.insertAttestations(ctx, rec.ID, as); err != nil {
			return EvidenceRecord{}, false, err
		}
	}
	return rec, true, nil
}

// lockEvidenceChain reads a repository's chain, creating it when new, and
// (on Postgres) locks its row until the transaction ends: the upsert takes
// the row lock, and a waiting transaction then reads the row as the first
// one left it.
func (q Queries) lockEvidenceChain(ctx context.Context, repo string) (EvidenceChain, error) {
	ch := EvidenceChain{Repo: repo}
	err := q.db.queryRow(ctx, `INSERT INTO evidence_chains (repo) VALUES ($1)
		ON CONFLICT (repo) DO UPDATE SET repo = excluded.repo
		RETURNING head_seq, head_hash, anchor_seq, anchor_hash`, repo).
		Scan(&ch.HeadSeq, &ch.HeadHash, &ch.AnchorSeq, &ch.AnchorHash)
	if err != nil {
		return EvidenceChain{}, fmt.Errorf("lock evidence chain of %s: %w", repo, err)
	}
	return ch, nil
}

const evidenceColumns = `pos, id, repo, seq, kind, head_sha, base_sha, decision, created_at, record, hash, prev_hash`

func scanEvidence(r row) (EvidenceRecord, error) {
	var e EvidenceRecord
	err := r.Scan(&e.Pos, &e.ID, &e.Repo, &e.Seq, &e.Kind, &e.HeadSHA, &e.BaseSHA, &e.Decision, &e.CreatedAt, &e.Record, &e.Hash, &e.PrevHash)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, err
}

// GetEvidence returns the record with the given id, or an error wrapping
// ErrNotFound.
func (q Queries) GetEvidence(ctx context.Context, id string) (EvidenceRecord, error) {
	e, err := scanEvidence(q.db.queryRow(ctx, `SELECT `+evidenceColumns+` FROM evidence_records WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return EvidenceRecord{}, fmt.Errorf("get evidence %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return EvidenceRecord{}, fmt.Errorf("get evidence %s: %w", id, err)
	}
	return e, nil
}

// EvidenceFilter selects records. Empty fields do not filter.
type EvidenceFilter struct {
	Repo     string // "owner/name", compared lower-cased
	HeadSHA  string
	Decision string
	Since    time.Time // created at or after
	// Before and After are positions (Pos) to page from, exclusive.
	Before, After int64
	// Ascending lists oldest first (exports); the default is newest first.
	Ascending bool
	// Limit caps the rows returned: default 50, at most 1000.
	Limit int
}

// ListEvidence returns the records f selects, by position.
func (q Queries) ListEvidence(ctx context.Context, f EvidenceFilter) ([]EvidenceRecord, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Repo != "" {
		add("repo = $%d", strings.ToLower(f.Repo))
	}
	if f.HeadSHA != "" {
		add("head_sha = $%d", f.HeadSHA)
	}
	if f.Decision != "" {
		add("decision = $%d", f.Decision)
	}
	if !f.Since.IsZero() {
		add("created_at >= $%d", f.Since.UTC())
	}
	if f.Before > 0 {
		add("pos < $%d", f.Before)
	}
	if f.After > 0 {
		add("pos > $%d", f.After)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	query := `SELECT ` + evidenceColumns + ` FROM evidence_records`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	query += fmt.Sprintf(` ORDER BY pos %s LIMIT %d`, order, limit)
	return q.evidenceRows(ctx, "list evidence", query, args...)
}

// EvidenceChainRecords returns up to limit records of a repository's chain
// after seq afterSeq, in chain order.
func (q Queries) EvidenceChainRecords(ctx context.Context, repo string, afterSeq int64, limit int) ([]EvidenceRecord, error) {
	return q.evidenceRows(ctx, "read evidence chain of "+repo,
		`SELECT `+evidenceColumns+` FROM evidence_records WHERE repo = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		strings.ToLower(repo), afterSeq, limit)
}

func (q Queries) evidenceRows(ctx context.Context, what, query string, args ...any) ([]EvidenceRecord, error) {
	rs, err := q.db.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	var out []EvidenceRecord
	for rs.Next() {
		e, err := scanEvidence(rs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// GetEvidenceChain returns a repository's chain, or an error wrapping
// ErrNotFound when it has no evidence.
func (q Queries) GetEvidenceChain(ctx context.Context, repo string) (EvidenceChain, error) {
	ch := EvidenceChain{Repo: strings.ToLower(repo)}
	err := q.db.queryRow(ctx, `SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM evidence_chains WHERE repo = $1`, ch.Repo).
		Scan(&ch.HeadSeq, &ch.HeadHash, &ch.AnchorSeq, &ch.AnchorHash)
	if errors.Is(err, sql.ErrNoRows) {
		return EvidenceChain{}, fmt.Errorf("evidence chain of %s: %w", repo, ErrNotFound)
	}
	if err != nil {
		return EvidenceChain{}, fmt.Errorf("evidence chain of %s: %w", repo, err)
	}
	return ch, nil
}

// EvidenceRepos lists the repositories that have a chain, sorted.
func (q Queries) EvidenceRepos(ctx context.Context) ([]string, error) {
	rs, err := q.db.query(ctx, `SELECT repo FROM evidence_chains ORDER BY repo`)
	if err != nil {
		return nil, fmt.Errorf("list evidence repositories: %w", err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var r string
		if err := rs.Scan(&r); err != nil {
			return nil, fmt.Errorf("list evidence repositories: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list evidence repositories: %w", err)
	}
	return out, nil
}

// EvidenceSBOM returns the gzipped SBOM stored beside a record, or an error
// wrapping ErrNotFound.
func (q Queries) EvidenceSBOM(ctx context.Context, recordID string) ([]byte, error) {
	var gz []byte
	err := q.db.queryRow(ctx, `SELECT sbom_gzip FROM evidence_sboms WHERE record_id = $1`, recordID).Scan(&gz)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("SBOM of evidence %s: %w", recordID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("SBOM of evidence %s: %w", recordID, err)
	}
	return gz, nil
}

// LatestEvidenceSBOM returns the newest record of a commit that has an
// SBOM, with the gzipped SBOM, or an error wrapping ErrNotFound.
func (q Queries) LatestEvidenceSBOM(ctx context.Context, repo, sha string) (EvidenceRecord, []byte, error) {
	var gz []byte
	var e EvidenceRecord
	err := q.db.queryRow(ctx, `SELECT r.pos, r.id, r.repo, r.seq, r.kind, r.head_sha, r.base_sha, r.decision,
			r.created_at, r.record, r.hash, r.prev_hash, s.sbom_gzip
		FROM evidence_records r JOIN evidence_sboms s ON s.record_id = r.id
		WHERE r.repo = $1 AND r.head_sha = $2 ORDER BY r.pos DESC LIMIT 1`, strings.ToLower(repo), sha).
		Scan(&e.Pos, &e.ID, &e.Repo, &e.Seq, &e.Kind, &e.HeadSHA, &e.BaseSHA, &e.Decision, &e.CreatedAt, &e.Record, &e.Hash, &e.PrevHash, &gz)
	if errors.Is(err, sql.ErrNoRows) {
		return EvidenceRecord{}, nil, fmt.Errorf("SBOM of %s@%s: %w", repo, sha, ErrNotFound)
	}
	if err != nil {
		return EvidenceRecord{}, nil, fmt.Errorf("SBOM of %s@%s: %w", repo, sha, err)
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, gz, nil
}

// EvidenceKey returns the named key, storing gen's bytes first when the
// database has none: the first replica to ask creates it, every other one
// reads the same.
func (q Queries) EvidenceKey(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var key []byte
	err := q.db.queryRow(ctx, `SELECT key FROM evidence_keys WHERE name = $1`, name).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read evidence key %s: %w", name, err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generate evidence key %s: %w", name, err)
	}
	if _, err := q.db.exec(ctx, `INSERT INTO evidence_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("store evidence key %s: %w", name, err)
	}
	if err := q.db.queryRow(ctx, `SELECT key FROM evidence_keys WHERE name = $1`, name).Scan(&key); err != nil {
		return nil, fmt.Errorf("read evidence key %s: %w", name, err)
	}
	return key, nil
}
