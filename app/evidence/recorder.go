package evidence

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"

	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks"
)

// ErrNotFound is returned (wrapped) for an unknown record, commit or chain.
var ErrNotFound = store.ErrNotFound

// idKeyName names the HMAC key record ids are derived with.
const idKeyName = "evidence-id-v1"

// Config wires a Recorder.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Signer, when set, signs every record written from now on: an
	// in-toto statement of the verdict, and one of the SBOM, each in a
	// DSSE envelope stored with the record. Its public key is listed
	// (SigningKeys) when New is called. Without one (the web role, which
	// never records) records are written unsigned.
	Signer *attest.Signer
	// GitHubWebURL is the GitHub server's web URL, which names the
	// statements' subjects ("https://github.com/" when empty).
	GitHubWebURL string
}

// Recorder writes, reads, verifies, exports and prunes evidence.
type Recorder struct {
	st     *store.Store
	key    []byte
	log    *slog.Logger
	now    func() time.Time
	signer *attest.Signer
	webURL string
}

// New builds a Recorder, reading (or, on first use of the database,
// creating) the key record ids are derived with.
func New(ctx context.Context, cfg Config) (*Recorder, error) {
	if cfg.Store == nil {
		return nil, errors.New("evidence: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := cfg.Store.EvidenceKey(ctx, idKeyName, func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	r := &Recorder{st: cfg.Store, key: key, log: cfg.Logger, now: cfg.Now, signer: cfg.Signer, webURL: cfg.GitHubWebURL}
	if r.signer != nil {
		if err := r.registerKey(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ID is the record id of a scan: 128 bits of an HMAC (keyed by a random
// key kept in the database) of its delivery, repository, kind and pull
// request. It cannot be guessed without the key, and the planner and the
// worker (and a retry of either) compute the same one, so a check run's
// details URL can name its record before the scan runs. A re-run is a new
// delivery, so a new record.
func (r *Recorder) ID(s jobs.Scan) string {
	m := hmac.New(sha256.New, r.key)
	for _, p := range []string{"gatehouse evidence id", s.DeliveryID, strings.ToLower(s.Repo), s.Kind, strconv.Itoa(s.PRNumber)} {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// ValidID reports whether id has the shape of a record id (32 lower-case
// hex digits), so lookups of anything else can be refused early.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Record appends the verdict's record to its repository's chain, with the
// SBOM beside it, and returns its id. Recording the same scan again (a
// retried job) keeps the first record and returns its id.
func (r *Recorder) Record(ctx context.Context, in Input) (string, error) {
	e, err := r.prepare(ctx, in)
	if err != nil {
		return "", err
	}
	rec, inserted, err := r.st.AppendEvidence(ctx, e)
	return r.done(in, rec, inserted, err)
}

// RecordTx is Record inside a transaction, so the record commits together
// with whatever else tx does (marking the job done).
func (r *Recorder) RecordTx(ctx context.Context, tx *store.Tx, in Input) (string, error) {
	e, err := r.prepare(ctx, in)
	if err != nil {
		return "", err
	}
	rec, inserted, err := tx.AppendEvidence(ctx, e)
	return r.done(in, rec, inserted, err)
}

func (r *Recorder) prepare(ctx context.Context, in Input) (store.NewEvidence, error) {
	s := in.Scan
	if s.Repo == "" || s.HeadSHA == "" {
		return store.NewEvidence{}, errors.New("record evidence: the scan has no repository or head commit")
	}
	id := in.ID
	if id == "" {
		id = r.ID(s)
	}
	if !ValidID(id) {
		return store.NewEvidence{}, fmt.Errorf("record evidence of %s@%s: id %q is not 32 hex digits", s.Repo, s.HeadSHA, id)
	}
	rec := build(in, id, r.now())
	info, gz, err := sbomOf(in.Results)
	if err != nil {
		return store.NewEvidence{}, fmt.Errorf("record evidence of %s@%s: %w", s.Repo, s.HeadSHA, err)
	}
	rec.SBOM = info
	e := store.NewEvidence{
		ID: id, Repo: s.Repo, Kind: s.Kind, HeadSHA: s.HeadSHA, BaseSHA: s.BaseSHA, Decision: rec.Decision,
		CreatedAt: rec.RecordedAt, SBOMGzip: gz,
		Build: func(seq int64, prev string) ([]byte, string, error) {
			rec.Seq, rec.PrevHash = seq, prev
			b, err := canonical(rec)
			if err != nil {
				return nil, "", err
			}
			return b, sha256Hex(b), nil
		},
	}
	if r.signer != nil {
		var doc []byte
		if gz != nil { // a CycloneDX document, stored
			doc = findResult(in.Results, checks.Dependencies).SBOM
		}
		sbom, err := r.attestSBOM(ctx, rec, doc)
		if err != nil {
			return store.NewEvidence{}, fmt.Errorf("record evidence of %s@%s: %w", s.Repo, s.HeadSHA, err)
		}
		e.Attest = func(stored store.EvidenceRecord) ([]store.NewAttestation, error) {
			return r.attest(ctx, rec, stored.Hash, sbom)
		}
	}
	return e, nil
}

func (r *Recorder) done(in Input, rec store.EvidenceRecord, inserted bool, err error) (string, error) {
	if err != nil {
		return "", fmt.Errorf("record evidence of %s@%s: %w", in.Scan.Repo, in.Scan.HeadSHA, err)
	}
	r.log.Info("evidence recorded", slog.String("delivery", in.Scan.DeliveryID), slog.String("repo", in.Scan.Repo),
		slog.String("sha", in.Scan.HeadSHA), slog.String("id", rec.ID), slog.Int64("seq", rec.Seq), slog.Bool("new", inserted))
	return rec.ID, nil
}

// canonical is the record's canonical JSON (RFC 8785): what is stored and
// hashed, and what anyone can recompute from the parsed record.
func canonical(rec *Record) ([]byte, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode evidence record: %w", err)
	}
	c, err := jsoncanonicalizer.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonicalize evidence record: %w", err)
	}
	return c, nil
}

// Stored is a record as stored: its exact bytes, their hash, and what
// they decode to.
type Stored struct {
	Record Record
	Hash   string
	Raw    []byte
}

// Envelope is how a record leaves gatehouse (API, export): the hash and
// the exact bytes it is the SHA-256 of.
type Envelope struct {
	Hash   string          `json:"hash"`
	Record json.RawMessage `json:"record"`
}

// Envelope returns s as it is exported.
func (s *Stored) Envelope() Envelope { return Envelope{Hash: s.Hash, Record: s.Raw} }

func decode(e store.EvidenceRecord) (*Stored, error) {
	s := &Stored{Hash: e.Hash, Raw: e.Record}
	if err := json.Unmarshal(e.Record, &s.Record); err != nil {
		return nil, fmt.Errorf("decode evidence %s: %w", e.ID, err)
	}
	return s, nil
}

// Get returns the record with the given id, or an error wrapping
// ErrNotFound.
func (r *Recorder) Get(ctx context.Context, id string) (*Stored, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("evidence %q: %w", id, ErrNotFound)
	}
	e, err := r.st.GetEvidence(ctx, id)
	if err != nil {
		return nil, err
	}
	return decode(e)
}

// SBOM returns the CycloneDX JSON stored beside a record, or an error
// wrapping ErrNotFound.
func (r *Recorder) SBOM(ctx context.Context, id string) ([]byte, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("SBOM of evidence %q: %w", id, ErrNotFound)
	}
	gz, err := r.st.EvidenceSBOM(ctx, id)
	if err != nil {
		return nil, err
	}
	return gunzip(gz)
}

// CommitSBOM returns the CycloneDX JSON of a commit (from its newest record
// with one) and that record's id, or an error wrapping ErrNotFound.
func (r *Recorder) CommitSBOM(ctx context.Context, repo, sha string) (id string, sbom []byte, err error) {
	e, gz, err := r.st.LatestEvidenceSBOM(ctx, repo, sha)
	if err != nil {
		return "", nil, err
	}
	b, err := gunzip(gz)
	return e.ID, b, err
}
