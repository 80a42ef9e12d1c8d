package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newEvidence is a record whose bytes name its chain place, so a test can
// see that Build was given the right seq and previous hash.
func newEvidence(id, repo, sha, decision string, at time.Time, sbom []byte) store.NewEvidence {
	return store.NewEvidence{
		ID: id, Repo: repo, Kind: "push", HeadSHA: sha, Decision: decision, CreatedAt: at, SBOMGzip: sbom,
		Build: func(seq int64, prev string) ([]byte, string, error) {
			b := fmt.Appendf(nil, `{"id":%q,"seq":%d,"prev_hash":%q}`, id, seq, prev)
			sum := sha256.Sum256(b)
			return b, hex.EncodeToString(sum[:]), nil
		},
	}
}

func appendAll(t *testing.T, s *store.Store, es ...store.NewEvidence) []store.EvidenceRecord {
	t.Helper()
	var out []store.EvidenceRecord
	for _, e := range es {
		rec, inserted, err := s.AppendEvidence(context.Background(), e)
		if err != nil || !inserted {
			t.Fatalf("append %s: inserted %v, %v", e.ID, inserted, err)
		}
		out = append(out, rec)
	}
	return out
}

func TestEvidenceAppendChainsPerRepository(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		recs := appendAll(t, s,
			newEvidence("a1", "Acme/Widgets", "sha1", "failure", t0, nil),
			newEvidence("b1", "acme/gadgets", "sha9", "success", t0.Add(time.Minute), nil),
			newEvidence("a2", "acme/widgets", "sha2", "success", t0.Add(2*time.Minute), []byte("gz")),
		)
		want := []struct {
			repo string
			seq  int64
			prev string
		}{{"acme/widgets", 1, ""}, {"acme/gadgets", 1, ""}, {"acme/widgets", 2, recs[0].Hash}}
		for i, w := range want {
			r := recs[i]
			if r.Repo != w.repo || r.Seq != w.seq || r.PrevHash != w.prev {
				t.Errorf("record %s: repo %s seq %d prev %q; want %s %d %q", r.ID, r.Repo, r.Seq, r.PrevHash, w.repo, w.seq, w.prev)
			}
			if !strings.Contains(string(r.Record), fmt.Sprintf(`"seq":%d,"prev_hash":%q`, w.seq, w.prev)) {
				t.Errorf("record %s was built with the wrong chain place: %s", r.ID, r.Record)
			}
		}
		got, err := s.GetEvidence(ctx, "a2")
		if err != nil {
			t.Fatal(err)
		}
		if got.Pos != recs[2].Pos || string(got.Record) != string(recs[2].Record) || !got.CreatedAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("GetEvidence = %+v, want %+v", got, recs[2])
		}
		// The same id again (a retried job) appends nothing.
		again, inserted, err := s.AppendEvidence(ctx, newEvidence("a2", "acme/widgets", "other", "failure", t0, nil))
		if err != nil || inserted || again.Hash != recs[2].Hash {
			t.Errorf("re-append = %v %v %v, want the stored record", again.Hash, inserted, err)
		}
		ch, err := s.GetEvidenceChain(ctx, "ACME/widgets")
		if err != nil || ch.HeadSeq != 2 || ch.HeadHash != recs[2].Hash || ch.AnchorSeq != 0 {
			t.Errorf("chain = %+v, %v", ch, err)
		}
		if _, err := s.GetEvidence(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}
		if _, err := s.GetEvidenceChain(ctx, "acme/none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown chain: %v, want ErrNotFound", err)
		}
		if repos, err := s.EvidenceRepos(ctx); err != nil || strings.Join(repos, ",") != "acme/gadgets,acme/widgets" {
			t.Errorf("repos = %v, %v", repos, err)
		}
		gz, err := s.EvidenceSBOM(ctx, "a2")
		if err != nil || string(gz) != "gz" {
			t.Errorf("SBOM = %q, %v", gz, err)
		}
		if _, err := s.EvidenceSBOM(ctx, "a1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record without SBOM: %v", err)
		}
		rec, gz, err := s.LatestEvidenceSBOM(ctx, "acme/Widgets", "sha2")
		if err != nil || rec.ID != "a2" || string(gz) != "gz" {
			t.Errorf("latest SBOM = %s %q %v", rec.ID, gz, err)
		}
		if _, _, err := s.LatestEvidenceSBOM(ctx, "acme/gadgets", "sha2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another repo's commit: %v, want ErrNotFound", err)
		}
	})
}

func TestEvidenceIsAppendOnly(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		appendAll(t, s, newEvidence("a1", "acme/widgets", "sha1", "failure", t0, []byte("gz")))
		for _, q := range []string{
			`UPDATE evidence_records SET decision = 'success'`,
			`UPDATE evidence_sboms SET sbom_gzip = sbom_gzip`,
		} {
			if err := store.ExecForTest(ctx, s, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want an append-only refusal", q, err)
			}
		}
		if got, _ := s.GetEvidence(ctx, "a1"); got.Decision != "failure" {
			t.Errorf("decision changed to %s", got.Decision)
		}
	})
}

func TestEvidenceConcurrentAppendsDoNotFork(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		const n = 12
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				_, _, err := s.AppendEvidence(ctx, newEvidence(fmt.Sprint("r", i), "acme/widgets", "sha", "success", t0, nil))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		recs, err := s.EvidenceChainRecords(ctx, "acme/widgets", 0, 100)
		if err != nil || len(recs) != n {
			t.Fatalf("chain has %d records (%v), want %d", len(recs), err, n)
		}
		prev := ""
		for i, r := range recs {
			if r.Seq != int64(i+1) || r.PrevHash != prev {
				t.Fatalf("record %d: seq %d prev %q, want %d %q", i, r.Seq, r.PrevHash, i+1, prev)
			}
			prev = r.Hash
		}
	})
}

func TestListEvidenceFiltersAndPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		appendAll(t, s,
			newEvidence("w1", "acme/widgets", "aaa", "failure", t0, nil),
			newEvidence("g1", "acme/gadgets", "aaa", "failure", t0.Add(time.Hour), nil),
			newEvidence("w2", "acme/widgets", "bbb", "success", t0.Add(2*time.Hour), nil),
			newEvidence("w3", "acme/widgets", "aaa", "success", t0.Add(3*time.Hour+time.Microsecond), nil),
			newEvidence("w4", "acme/widgets-two", "aaa", "success", t0.Add(4*time.Hour), nil),
		)
		tests := []struct {
			name string
			f    store.EvidenceFilter
			want string
		}{
			{"all, newest first", store.EvidenceFilter{}, "w4 w3 w2 g1 w1"},
			{"repo, any case", store.EvidenceFilter{Repo: "ACME/Widgets"}, "w3 w2 w1"},
			{"repo and sha", store.EvidenceFilter{Repo: "acme/widgets", HeadSHA: "aaa"}, "w3 w1"},
			{"sha alone spans repos", store.EvidenceFilter{HeadSHA: "aaa"}, "w4 w3 g1 w1"},
			{"decision", store.EvidenceFilter{Repo: "acme/widgets", Decision: "failure"}, "w1"},
			{"since is inclusive", store.EvidenceFilter{Since: t0.Add(2 * time.Hour)}, "w4 w3 w2"},
			{"since with sub-second times", store.EvidenceFilter{Since: t0.Add(3 * time.Hour)}, "w4 w3"},
			{"limit", store.EvidenceFilter{Limit: 2}, "w4 w3"},
			{"oldest first", store.EvidenceFilter{Ascending: true, Limit: 2}, "w1 g1"},
			{"unknown repo", store.EvidenceFilter{Repo: "acme/none"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				recs, err := s.ListEvidence(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if got := ids(recs); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
		// Paging: Before the last row of a page gives the next page.
		var pages []string
		f := store.EvidenceFilter{Limit: 2}
		for {
			recs, err := s.ListEvidence(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			pages = append(pages, ids(recs))
			f.Before = recs[len(recs)-1].Pos
		}
		if got := strings.Join(pages, " | "); got != "w4 w3 | w2 g1 | w1" {
			t.Errorf("pages = %q", got)
		}
		asc, err := s.ListEvidence(ctx, store.EvidenceFilter{Ascending: true, After: pages0Pos(t, s, "g1")})
		if err != nil || ids(asc) != "w2 w3 w4" {
			t.Errorf("after g1 = %q, %v", ids(asc), err)
		}
	})
}

func pages0Pos(t *testing.T, s *store.Store, id string) int64 {
	t.Helper()
	r, err := s.GetEvidence(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Pos
}

func ids(recs []store.EvidenceRecord) string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return strings.Join(out, " ")
}

func TestPruneEvidenceFromTheOldestEnd(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := t0.Add(30 * 24 * time.Hour)
		recs := appendAll(t, s,
			newEvidence("w1", "acme/widgets", "s1", "success", t0, []byte("gz1")),
			newEvidence("w2", "acme/widgets", "s2", "success", t0.Add(24*time.Hour), nil),
			// A clock that went backwards: older than w2, but after it in
			// the chain. It stays until everything before it goes.
			newEvidence("w3", "acme/widgets", "s3", "success", t0.Add(48*time.Hour), nil),
			newEvidence("w4", "acme/widgets", "s4", "success", t0.Add(time.Hour), nil),
			newEvidence("w5", "acme/widgets", "s5", "success", t0.Add(96*time.Hour), nil),
			newEvidence("g1", "acme/gadgets", "s1", "success", t0, nil),
		)
		steps := []struct {
			cutoff  time.Time
			through int64
			deleted int64
			left    string
		}{
			{t0, 0, 0, "w1 w2 w3 w4 w5"},               // nothing is older than t0
			{t0.Add(36 * time.Hour), 2, 2, "w3 w4 w5"}, // w1, w2; w4 waits behind w3
			{t0.Add(36 * time.Hour), 2, 0, "w3 w4 w5"}, // again: nothing more
			{t0.Add(72 * time.Hour), 4, 2, "w5"},       // w3, then w4
			{t0.Add(365 * 24 * time.Hour), 5, 1, ""},   // everything
			{t0.Add(365 * 24 * time.Hour), 5, 0, ""},   // an empty chain stays anchored
		}
		for i, st := range steps {
			p, err := s.PruneEvidence(ctx, "acme/widgets", st.cutoff, now)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if p.ThroughSeq != st.through || p.Records != st.deleted {
				t.Errorf("step %d: through %d deleted %d, want %d %d", i, p.ThroughSeq, p.Records, st.through, st.deleted)
			}
			if st.through > 0 && p.AnchorHash != recs[st.through-1].Hash {
				t.Errorf("step %d: anchor %s, want the hash of record %d", i, p.AnchorHash, st.through)
			}
			left, _ := s.EvidenceChainRecords(ctx, "acme/widgets", 0, 100)
			if ids(left) != st.left {
				t.Errorf("step %d: left %q, want %q", i, ids(left), st.left)
			}
		}
		ch, _ := s.GetEvidenceChain(ctx, "acme/widgets")
		if ch.AnchorSeq != 5 || ch.AnchorHash != recs[4].Hash || ch.HeadSeq != 5 {
			t.Errorf("chain after pruning = %+v", ch)
		}
		last, err := s.LatestEvidencePrune(ctx, "acme/widgets")
		if err != nil || last.ThroughSeq != 5 || last.AnchorHash != recs[4].Hash || !last.PrunedAt.Equal(now) {
			t.Errorf("latest prune = %+v, %v", last, err)
		}
		if _, err := s.EvidenceSBOM(ctx, "w1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SBOM of a pruned record: %v", err)
		}
		// The next record continues the chain from the anchor.
		next := appendAll(t, s, newEvidence("w6", "acme/widgets", "s6", "success", now, nil))[0]
		if next.Seq != 6 || next.PrevHash != recs[4].Hash {
			t.Errorf("after pruning: seq %d prev %s", next.Seq, next.PrevHash)
		}
		if g, _ := s.EvidenceChainRecords(ctx, "acme/gadgets", 0, 10); ids(g) != "g1" {
			t.Errorf("another repository was pruned: %q", ids(g))
		}
		if _, err := s.LatestEvidencePrune(ctx, "acme/gadgets"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("never pruned: %v", err)
		}
	})
}

func TestEvidenceKeyIsCreatedOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		calls := 0
		gen := func() ([]byte, error) {
			calls++
			return fmt.Appendf(nil, "key-%d", calls), nil
		}
		k1, err := s.EvidenceKey(ctx, "ids", gen)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := s.EvidenceKey(ctx, "ids", gen)
		if err != nil || string(k1) != "key-1" || string(k2) != "key-1" || calls != 1 {
			t.Errorf("keys %q %q (%d generations), %v", k1, k2, calls, err)
		}
		if _, err := s.EvidenceKey(ctx, "other", func() ([]byte, error) { return nil, errors.New("no entropy") }); err == nil {
			t.Error("a failing generator must fail")
		}
	})
}
