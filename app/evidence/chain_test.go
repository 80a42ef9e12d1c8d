package evidence_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// chainEnv records three verdicts of acme/widgets and one of acme/gadgets.
func chainEnv(t *testing.T, driver string) (*env, []*evidence.Stored) {
	t.Helper()
	e := newEnv(t, driver)
	var out []*evidence.Stored
	for i, repo := range []string{"acme/widgets", "acme/widgets", "acme/gadgets", "acme/widgets"} {
		in := prInput(t)
		in.Scan.Repo, in.Scan.DeliveryID = repo, fmt.Sprint("delivery-", i)
		e.clock.Set(started.Add(time.Duration(i) * time.Hour))
		s, err := e.rec.Get(e.ctx, e.record(t, in))
		if err != nil {
			t.Fatal(err)
		}
		if repo == "acme/widgets" {
			out = append(out, s)
		}
	}
	return e, out
}

// dropTriggers removes the append-only triggers, as someone with direct
// access to the database could.
func dropTriggers(driver string) string {
	var b strings.Builder
	for _, tbl := range []string{"evidence_records", "evidence_sboms", "evidence_prunes"} {
		if driver == store.DriverPostgres {
			fmt.Fprintf(&b, "DROP TRIGGER %s_append_only ON %s;\n", tbl, tbl)
		} else {
			fmt.Fprintf(&b, "DROP TRIGGER %s_append_only;\n", tbl)
		}
	}
	return b.String()
}

// blob is a binary SQL literal.
func blob(driver string, b []byte) string {
	if driver == store.DriverPostgres {
		return `'\x` + hex.EncodeToString(b) + `'::bytea`
	}
	return "X'" + hex.EncodeToString(b) + "'"
}

func TestVerifyFindsTheFirstBrokenLink(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(driver string, recs []*evidence.Stored) string
		seq    int64
		reason string
	}{
		{"untouched", nil, 0, ""},
		{"a record's decision edited in place", func(d string, r []*evidence.Stored) string {
			edited := strings.Replace(string(r[1].Raw), `"decision":"failure"`, `"decision":"success"`, 1)
			return fmt.Sprintf("UPDATE evidence_records SET record = %s WHERE id = '%s'", blob(d, []byte(edited)), r[1].Record.ID)
		}, 2, "does not match its hash"},
		{"a record and its hash rewritten", func(d string, r []*evidence.Stored) string {
			edited := []byte(strings.Replace(string(r[1].Raw), `"trigger":"pull_request opened"`, `"trigger":"rerun by @mallory"`, 1))
			if string(edited) == string(r[1].Raw) {
				panic("nothing edited")
			}
			return fmt.Sprintf("UPDATE evidence_records SET record = %s, hash = '%s' WHERE id = '%s'", blob(d, edited), sha256Hex(edited), r[1].Record.ID)
		}, 3, "does not follow the previous record"},
		{"a lookup column edited", func(_ string, r []*evidence.Stored) string {
			return fmt.Sprintf("UPDATE evidence_records SET decision = 'success' WHERE id = '%s'", r[0].Record.ID)
		}, 1, "stored decision"},
		{"a middle record deleted", func(_ string, r []*evidence.Stored) string {
			return fmt.Sprintf("DELETE FROM evidence_sboms WHERE record_id = '%[1]s'; DELETE FROM evidence_records WHERE id = '%[1]s'", r[1].Record.ID)
		}, 2, "record 2 is missing"},
		{"the newest record deleted", func(_ string, r []*evidence.Stored) string {
			return fmt.Sprintf("DELETE FROM evidence_sboms WHERE record_id = '%[1]s'; DELETE FROM evidence_records WHERE id = '%[1]s'", r[2].Record.ID)
		}, 3, "record 3 is missing"},
		{"an SBOM swapped", func(d string, r []*evidence.Stored) string {
			return fmt.Sprintf("UPDATE evidence_sboms SET sbom_gzip = %s WHERE record_id = '%s'", blob(d, gzipped(`{"bomFormat":"CycloneDX"}`)), r[1].Record.ID)
		}, 2, "SBOM does not match"},
		{"an SBOM deleted", func(_ string, r []*evidence.Stored) string {
			return fmt.Sprintf("DELETE FROM evidence_sboms WHERE record_id = '%s'", r[0].Record.ID)
		}, 1, "SBOM is missing"},
		{"old records deleted behind a forged anchor", func(_ string, r []*evidence.Stored) string {
			return fmt.Sprintf("UPDATE evidence_chains SET anchor_seq = 1, anchor_hash = '%s' WHERE repo = 'acme/widgets'; DELETE FROM evidence_sboms WHERE record_id = '%[2]s'; DELETE FROM evidence_records WHERE id = '%[2]s'",
				r[0].Hash, r[0].Record.ID)
		}, 1, "no prune is logged"},
	}
	storetest.Run(t, func(t *testing.T, driver string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e, recs := chainEnv(t, driver)
				if tt.tamper != nil {
					storetest.Exec(t, e.cfg, dropTriggers(driver)+tt.tamper(driver, recs))
				}
				v, err := e.rec.Verify(e.ctx, "Acme/Widgets")
				if err != nil {
					t.Fatal(err)
				}
				if tt.reason == "" {
					if !v.OK || v.Broken != nil || v.Records != 3 || v.HeadSeq != 3 || v.HeadHash != recs[2].Hash {
						t.Errorf("untouched chain: %+v", v)
					}
				} else if v.OK || v.Broken == nil || v.Broken.Seq != tt.seq || !strings.Contains(v.Broken.Reason, tt.reason) {
					t.Errorf("verify = %+v (broken %+v), want a break at %d: %q", v, v.Broken, tt.seq, tt.reason)
				}
				// Another repository's chain is not affected.
				if g, err := e.rec.Verify(e.ctx, "acme/gadgets"); err != nil || !g.OK || g.Records != 1 {
					t.Errorf("acme/gadgets = %+v, %v", g, err)
				}
			})
		}
	})
}

func TestVerifyAllAndUnknownRepository(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e, _ := chainEnv(t, driver)
		vs, err := e.rec.VerifyAll(e.ctx)
		if err != nil || len(vs) != 2 || vs[0].Repo != "acme/gadgets" || vs[1].Repo != "acme/widgets" || !vs[0].OK || !vs[1].OK {
			t.Errorf("VerifyAll = %+v, %v", vs, err)
		}
		if _, err := e.rec.Verify(e.ctx, "acme/nothing"); !errors.Is(err, evidence.ErrNotFound) {
			t.Errorf("unknown repository: %v, want ErrNotFound", err)
		}
	})
}

func TestPruneKeepsTheChainVerifiable(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		day := 24 * time.Hour
		var recs []*evidence.Stored
		for i := range 4 {
			in := prInput(t)
			in.Scan.DeliveryID = fmt.Sprint("d", i)
			e.clock.Set(started.Add(time.Duration(i) * 10 * day))
			s, err := e.rec.Get(e.ctx, e.record(t, in))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, s)
		}
		e.clock.Set(started.Add(40 * day))
		if ps, err := e.rec.Prune(e.ctx, 0); err != nil || len(ps) != 0 {
			t.Fatalf("retention 0 pruned %+v, %v", ps, err)
		}
		ps, err := e.rec.Prune(e.ctx, 25*day) // keeps what is younger than day 15: records 3 and 4
		if err != nil || len(ps) != 1 || ps[0].Records != 2 || ps[0].ThroughSeq != 2 || ps[0].AnchorHash != recs[1].Hash {
			t.Fatalf("prune = %+v, %v", ps, err)
		}
		v, err := e.rec.Verify(e.ctx, "acme/widgets")
		if err != nil || !v.OK || v.Records != 2 || v.AnchorSeq != 2 || v.AnchorHash != recs[1].Hash {
			t.Errorf("after pruning: %+v, %v", v, err)
		}
		if _, err := e.rec.Get(e.ctx, recs[0].Record.ID); !errors.Is(err, evidence.ErrNotFound) {
			t.Errorf("pruned record still readable: %v", err)
		}
		in := prInput(t)
		in.Scan.DeliveryID = "d-after"
		e.record(t, in)
		if v, err := e.rec.Verify(e.ctx, "acme/widgets"); err != nil || !v.OK || v.Records != 3 || v.HeadSeq != 5 {
			t.Errorf("a record after pruning: %+v, %v", v, err)
		}
		storetest.Exec(t, e.cfg, "UPDATE evidence_chains SET anchor_hash = 'forged'")
		if v, _ := e.rec.Verify(e.ctx, "acme/widgets"); v.OK || v.Broken == nil || !strings.Contains(v.Broken.Reason, "last logged prune") {
			t.Errorf("forged anchor: %+v", v)
		}
	})
}

func TestParseRetention(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", evidence.DefaultRetention, false},
		{"400d", 400 * day, false},
		{"30", 30 * day, false},
		{"9600h", 400 * day, false},
		{"off", 0, false},
		{"0", 0, false},
		{"-5d", 0, true},
		{"a year", 0, true},
		{"-1h", 0, true},
	}
	for _, tt := range tests {
		got, err := evidence.ParseRetention(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
	if evidence.DefaultRetention != 400*day {
		t.Errorf("default retention %v, want 400 days", evidence.DefaultRetention)
	}
}

func TestRunRetentionPrunesAtStartAndEachTick(t *testing.T) {
	e := newEnv(t, store.DriverSQLite)
	day := 24 * time.Hour
	for i, at := range []time.Time{started, started.Add(10 * day)} {
		in := prInput(t)
		in.Scan.DeliveryID = fmt.Sprint("d", i)
		e.clock.Set(at)
		e.record(t, in)
	}
	// run runs the loop at a fixed time until it has taken n ticks: a
	// tick is received only once the prune before it is over.
	run := func(now time.Time, n int) {
		e.clock.Set(now)
		ctx, cancel := context.WithCancel(e.ctx)
		ticks := make(chan time.Time)
		done := make(chan struct{})
		go func() {
			e.rec.RunRetention(ctx, 15*day, ticks)
			close(done)
		}()
		for range n {
			ticks <- now
		}
		cancel()
		<-done
	}
	run(started.Add(20*day), 1)
	if v, _ := e.rec.Verify(e.ctx, "acme/widgets"); v.AnchorSeq != 1 || v.Records != 1 || !v.OK {
		t.Errorf("after pruning on day 20: %+v", v)
	}
	run(started.Add(40*day), 2)
	if v, _ := e.rec.Verify(e.ctx, "acme/widgets"); v.AnchorSeq != 2 || v.Records != 0 || !v.OK {
		t.Errorf("after pruning on day 40: %+v", v)
	}
}
