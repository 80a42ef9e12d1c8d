package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"

	"github.com/gatehouse/gatehouse/app/store"
)

// verifyBatch is how many records Verify reads at a time.
const verifyBatch = 200

// Verification is the result of walking one repository's chain.
type Verification struct {
	Repo string `json:"repo"`
	OK   bool   `json:"ok"`
	// Records is how many records were checked before the walk ended.
	Records int64 `json:"records"`
	// AnchorSeq and AnchorHash are the last record retention pruned (0 and
	// "" when none was): the chain starts after it.
	AnchorSeq  int64  `json:"anchor_seq"`
	AnchorHash string `json:"anchor_hash,omitempty"`
	HeadSeq    int64  `json:"head_seq"`
	HeadHash   string `json:"head_hash"`
	// Broken is the first broken link, when the chain does not verify.
	Broken *Break `json:"broken,omitempty"`
}

// Break is where and why a chain stops verifying.
type Break struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// Verify walks a repository's chain from its anchor to its head and reports
// the first broken link: a record whose bytes do not hash to its stored
// hash, that does not name the previous record's hash, whose lookup columns
// disagree with its content, whose SBOM was changed, or that is missing
// (the chain skips a number, or ends before its recorded head). An unknown
// repository gives an error wrapping ErrNotFound; a broken chain is not an
// error but a Verification with OK false.
func (r *Recorder) Verify(ctx context.Context, repo string) (Verification, error) {
	ch, err := r.st.GetEvidenceChain(ctx, repo)
	if err != nil {
		return Verification{}, err
	}
	v := Verification{Repo: ch.Repo, AnchorSeq: ch.AnchorSeq, AnchorHash: ch.AnchorHash, HeadSeq: ch.HeadSeq, HeadHash: ch.HeadHash}
	broken := func(seq int64, id, format string, args ...any) (Verification, error) {
		v.Broken = &Break{Seq: seq, ID: id, Reason: fmt.Sprintf(format, args...)}
		return v, nil
	}
	if ch.AnchorSeq > 0 {
		p, err := r.st.LatestEvidencePrune(ctx, ch.Repo)
		if errors.Is(err, store.ErrNotFound) {
			return broken(ch.AnchorSeq, "", "the chain starts after record %d but no prune is logged", ch.AnchorSeq)
		}
		if err != nil {
			return Verification{}, err
		}
		if p.ThroughSeq != ch.AnchorSeq || p.AnchorHash != ch.AnchorHash {
			return broken(ch.AnchorSeq, "", "the chain's anchor (record %d) differs from the last logged prune (through record %d)", ch.AnchorSeq, p.ThroughSeq)
		}
	}
	seq, prev := ch.AnchorSeq, ch.AnchorHash
	for {
		recs, err := r.st.EvidenceChainRecords(ctx, ch.Repo, seq, verifyBatch)
		if err != nil {
			return Verification{}, err
		}
		for _, e := range recs {
			if e.Seq != seq+1 {
				return broken(seq+1, "", "record %d is missing (the next stored record is %d)", seq+1, e.Seq)
			}
			if reason := r.checkRecord(ctx, e, prev); reason != "" {
				return broken(e.Seq, e.ID, "%s", reason)
			}
			seq, prev = e.Seq, e.Hash
			v.Records++
		}
		if len(recs) < verifyBatch {
			break
		}
	}
	if seq != ch.HeadSeq || prev != ch.HeadHash {
		if seq < ch.HeadSeq {
			return broken(seq+1, "", "record %d is missing (the chain's head is record %d)", seq+1, ch.HeadSeq)
		}
		return broken(seq, "", "the chain's recorded head (record %d) is not its last record (%d)", ch.HeadSeq, seq)
	}
	v.OK = true
	return v, nil
}

// checkRecord checks one stored record against its hash, its predecessor
// and its lookup columns, and returns what is wrong ("" when nothing is).
func (r *Recorder) checkRecord(ctx context.Context, e store.EvidenceRecord, prev string) string {
	if sha256Hex(e.Record) != e.Hash {
		return "the record's content does not match its hash (edited after it was written)"
	}
	if e.PrevHash != prev {
		return "the record does not follow the previous record (prev_hash differs)"
	}
	var rec Record
	if err := json.Unmarshal(e.Record, &rec); err != nil {
		return "the record is not valid JSON: " + err.Error()
	}
	if c, err := jsoncanonicalizer.Transform(e.Record); err != nil || !bytes.Equal(c, e.Record) {
		return "the record is not canonical JSON"
	}
	for _, m := range []struct {
		what      string
		got, want any
	}{
		{"prev_hash", rec.PrevHash, prev},
		{"seq", rec.Seq, e.Seq},
		{"id", rec.ID, e.ID},
		{"repository", strings.ToLower(rec.Repository), e.Repo},
		{"head commit", rec.Commit.Head, e.HeadSHA},
		{"base commit", rec.Commit.Base, e.BaseSHA},
		{"event kind", rec.Event.Kind, e.Kind},
		{"decision", rec.Decision, e.Decision},
		{"recorded_at", rec.RecordedAt.UTC().Format(time.RFC3339Nano), e.CreatedAt.UTC().Format(time.RFC3339Nano)},
	} {
		if m.got != m.want {
			return fmt.Sprintf("the stored %s (%v) differs from the record's (%v)", m.what, m.want, m.got)
		}
	}
	if rec.SBOM == nil || rec.SBOM.SHA256 == "" {
		return ""
	}
	gz, err := r.st.EvidenceSBOM(ctx, e.ID)
	if err != nil {
		return "the record's SBOM is missing"
	}
	doc, err := gunzip(gz)
	if err != nil {
		return "the record's SBOM is unreadable: " + err.Error()
	}
	if sha256Hex(doc) != rec.SBOM.SHA256 {
		return "the record's SBOM does not match its hash (edited after it was written)"
	}
	return ""
}

// VerifyAll verifies every repository's chain, in repository order.
func (r *Recorder) VerifyAll(ctx context.Context) ([]Verification, error) {
	repos, err := r.st.EvidenceRepos(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Verification, 0, len(repos))
	for _, repo := range repos {
		v, err := r.Verify(ctx, repo)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
