package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
)

// recordEvidence records verdicts of acme/widgets (two, a day apart) and
// acme/gadgets (one), then closes the store so the command can open it.
func recordEvidence(t *testing.T, cfg store.Config) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec, err := evidence.New(ctx, evidence.Config{Store: st, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	for i, repo := range []string{"acme/widgets", "acme/gadgets", "acme/widgets"} {
		at = at.Add(time.Duration(i) * 24 * time.Hour)
		v := checks.Verdict{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No secrets found"}
		_, err := rec.Record(ctx, evidence.Input{
			Scan:     jobs.Scan{DeliveryID: "d" + string(rune('0'+i)), Repo: repo, Kind: jobs.ScanPush, HeadSHA: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"},
			Verdicts: []checks.Verdict{v}, Started: at, Finished: at,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// storeArgs are the flags that open cfg's database.
func storeArgs(cfg store.Config) []string {
	if cfg.URL != "" {
		return []string{"--database-url", cfg.URL}
	}
	return []string{"--data-dir", cfg.DataDir}
}

func TestEvidenceVerify(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		cfg := storetest.Config(t, driver)
		recordEvidence(t, cfg)
		out, code := run(t, append([]string{"evidence", "verify"}, storeArgs(cfg)...)...)
		if code != 0 || !strings.Contains(out, "ok      acme/gadgets: 1 records") || !strings.Contains(out, "ok      acme/widgets: 2 records (1–2)") {
			t.Fatalf("untouched store: exit %d\n%s", code, out)
		}
		drop := "DROP TRIGGER evidence_records_append_only"
		if driver == store.DriverPostgres {
			drop += " ON evidence_records"
		}
		storetest.Exec(t, cfg, drop+"; UPDATE evidence_records SET head_sha = 'ffffffffffffffffffffffffffffffffffffffff' WHERE repo = 'acme/widgets' AND seq = 1")
		out, code = run(t, append([]string{"evidence", "verify"}, storeArgs(cfg)...)...)
		if code != 1 || !strings.Contains(out, "BROKEN  acme/widgets: at record 1") || !strings.Contains(out, "ok      acme/gadgets") {
			t.Errorf("edited store: exit %d\n%s", code, out)
		}
		out, code = run(t, append([]string{"evidence", "verify", "--repo", "acme/gadgets"}, storeArgs(cfg)...)...)
		if code != 0 || strings.Contains(out, "widgets") {
			t.Errorf("--repo acme/gadgets: exit %d\n%s", code, out)
		}
		if out, code := run(t, append([]string{"evidence", "verify", "--repo", "acme/none"}, storeArgs(cfg)...)...); code == 0 {
			t.Errorf("unknown repository: exit 0\n%s", out)
		}
	})
}

func TestEvidenceExport(t *testing.T) {
	cfg := storetest.Config(t, store.DriverSQLite)
	recordEvidence(t, cfg)
	tests := []struct {
		args  []string
		repos []string
	}{
		{nil, []string{"acme/widgets", "acme/gadgets", "acme/widgets"}},
		{[]string{"--repo", "acme/widgets"}, []string{"acme/widgets", "acme/widgets"}},
		{[]string{"--since", "2026-03-02"}, []string{"acme/gadgets", "acme/widgets"}},
		{[]string{"--since", "2026-03-03T00:00:00Z", "--format", "jsonl"}, []string{"acme/widgets"}},
	}
	for _, tt := range tests {
		out, code := run(t, append(append([]string{"evidence", "export"}, storeArgs(cfg)...), tt.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", tt.args, code, out)
		}
		var repos []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(line, "exported ") {
				continue
			}
			var env evidence.Envelope
			var rec evidence.Record
			if err := json.Unmarshal([]byte(line), &env); err != nil || json.Unmarshal(env.Record, &rec) != nil {
				t.Fatalf("%v: line %q is not an envelope: %v", tt.args, line, err)
			}
			repos = append(repos, rec.Repository)
		}
		if strings.Join(repos, " ") != strings.Join(tt.repos, " ") {
			t.Errorf("%v: exported %v, want %v", tt.args, repos, tt.repos)
		}
	}
	if out, code := run(t, append([]string{"evidence", "export", "--format", "csv"}, storeArgs(cfg)...)...); code == 0 {
		t.Errorf("--format csv: exit 0\n%s", out)
	}
}

func TestParseSinceFlag(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-03-01T08:30:00Z", time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC), false},
		{"3d", now.Add(-72 * time.Hour), false},
		{"12h", now.Add(-12 * time.Hour), false},
		{"yesterday", time.Time{}, true},
		{"-3d", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseSinceFlag(tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("parseSinceFlag(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestEvidenceBesideARunningServer: an auditor verifies and exports while
// serve holds the SQLite store (its lock and an open write connection).
func TestEvidenceBesideARunningServer(t *testing.T) {
	cfg := store.Config{DataDir: t.TempDir()}
	recordEvidence(t, cfg)
	st, err := store.Open(context.Background(), cfg) // the running server
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := store.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "in use by another gatehouse process") {
		t.Fatalf("a second writer: got %v, want the lock refused", err)
	}
	out, code := run(t, "evidence", "verify", "--data-dir", cfg.DataDir)
	if code != 0 || !strings.Contains(out, "ok      acme/widgets: 2 records") {
		t.Errorf("verify beside the server: exit %d\n%s", code, out)
	}
	out, code = run(t, "evidence", "export", "--data-dir", cfg.DataDir)
	if code != 0 || strings.Count(out, `{"hash":`) != 3 {
		t.Errorf("export beside the server: exit %d\n%s", code, out)
	}
	// The server still writes after the readers are gone.
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
