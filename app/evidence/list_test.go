package evidence_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
)

func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return buf.Bytes()
}

// listEnv records five verdicts, an hour apart: widgets (failure),
// gadgets (failure), widgets push (success), widgets-two (failure),
// widgets (success).
func listEnv(t *testing.T, driver string) (*env, []string) {
	t.Helper()
	e := newEnv(t, driver)
	var ids []string
	for i, c := range []struct {
		repo, sha string
		clean     bool
	}{
		{"acme/widgets", headSHA, false}, {"acme/gadgets", headSHA, false}, {"acme/widgets", "b2", true},
		{"acme/widgets-two", headSHA, false}, {"acme/widgets", headSHA, true},
	} {
		in := prInput(t)
		in.Scan.Repo, in.Scan.HeadSHA, in.Scan.DeliveryID = c.repo, c.sha, fmt.Sprint("d", i)
		if c.clean {
			for j := range in.Verdicts {
				in.Verdicts[j].Conclusion, in.Verdicts[j].Findings = checks.ConclusionSuccess, nil
			}
		}
		e.clock.Set(started.Add(time.Duration(i) * time.Hour))
		ids = append(ids, e.record(t, in))
	}
	return e, ids
}

func TestListFiltersAndPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e, ids := listEnv(t, driver)
		name := func(id string) string {
			for i, x := range ids {
				if x == id {
					return fmt.Sprint("r", i)
				}
			}
			return "?"
		}
		tests := []struct {
			name string
			q    evidence.Query
			want string
		}{
			{"all", evidence.Query{}, "r4 r3 r2 r1 r0"},
			{"one repository, never another", evidence.Query{Repo: "ACME/widgets"}, "r4 r2 r0"},
			{"repository and commit", evidence.Query{Repo: "acme/widgets", SHA: headSHA}, "r4 r0"},
			{"decision", evidence.Query{Repo: "acme/widgets", Decision: "failure"}, "r0"},
			{"since", evidence.Query{Since: started.Add(3 * time.Hour)}, "r4 r3"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := e.rec.List(e.ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, s := range p.Verdicts {
					got = append(got, name(s.ID))
					if tt.q.Repo != "" && !strings.EqualFold(s.Repository, tt.q.Repo) {
						t.Errorf("%s listed for repo %s", s.Repository, tt.q.Repo)
					}
				}
				if strings.Join(got, " ") != tt.want || p.NextCursor != "" {
					t.Errorf("got %v (next %q), want %s", got, p.NextCursor, tt.want)
				}
			})
		}
		var pages []string
		q := evidence.Query{Limit: 2}
		for range 10 {
			p, err := e.rec.List(e.ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, s := range p.Verdicts {
				page = append(page, name(s.ID))
			}
			pages = append(pages, strings.Join(page, " "))
			if p.NextCursor == "" {
				break
			}
			q.Cursor = p.NextCursor
		}
		if got := strings.Join(pages, " | "); got != "r4 r3 | r2 r1 | r0" {
			t.Errorf("pages = %q", got)
		}
		p, _ := e.rec.List(e.ctx, evidence.Query{Repo: "acme/widgets", Limit: 1})
		s := p.Verdicts[0]
		if s.Decision != "success" || s.Checks[checks.Secrets] != "success" || s.Seq != 3 || s.PullRequest != 7 || len(s.PolicySHA256) != 64 {
			t.Errorf("summary = %+v", s)
		}
		for _, bad := range []evidence.Query{{Cursor: "not-a-cursor"}, {Cursor: "cDA"}, {Decision: "passed"}} {
			if _, err := e.rec.List(e.ctx, bad); !errors.Is(err, evidence.ErrBadQuery) {
				t.Errorf("List(%+v): %v, want ErrBadQuery", bad, err)
			}
		}
	})
}

func TestExportIsVerifiableWithoutGatehouse(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e, ids := listEnv(t, driver)
		tests := []struct {
			name string
			f    evidence.ExportFilter
			want []int
		}{
			{"everything, oldest first", evidence.ExportFilter{}, []int{0, 1, 2, 3, 4}},
			{"one repository", evidence.ExportFilter{Repo: "acme/widgets"}, []int{0, 2, 4}},
			{"since", evidence.ExportFilter{Since: started.Add(90 * time.Minute)}, []int{2, 3, 4}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var out bytes.Buffer
				n, err := e.rec.Export(e.ctx, &out, tt.f)
				if err != nil || n != len(tt.want) {
					t.Fatalf("exported %d, %v; want %d", n, err, len(tt.want))
				}
				sc := bufio.NewScanner(&out)
				sc.Buffer(nil, 1<<20)
				last := map[string]string{} // repo → hash of its previous line
				i := 0
				for sc.Scan() {
					var env evidence.Envelope
					if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
						t.Fatal(err)
					}
					var rec evidence.Record
					if err := json.Unmarshal(env.Record, &rec); err != nil {
						t.Fatal(err)
					}
					if sha256Hex(env.Record) != env.Hash {
						t.Errorf("line %d: hash is not the SHA-256 of the record bytes", i)
					}
					if rec.ID != ids[tt.want[i]] {
						t.Errorf("line %d is %s, want record %d", i, rec.ID, tt.want[i])
					}
					if prev, ok := last[rec.Repository]; ok && rec.PrevHash != prev {
						t.Errorf("line %d does not link to the previous record of %s", i, rec.Repository)
					}
					last[rec.Repository] = env.Hash
					stored, _ := e.rec.Get(e.ctx, rec.ID)
					if !bytes.Equal(stored.Raw, env.Record) {
						t.Errorf("line %d's record differs from the stored bytes", i)
					}
					i++
				}
			})
		}
	})
}
