package evidence_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
)

func TestRecordGolden(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		in := prInput(t)
		in.ID = "0123456789abcdef0123456789abcdef" // fixed, so the file is stable
		id := e.record(t, in)
		got, err := e.rec.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, got.Raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteByte('\n')
		golden(t, "record.json", pretty.Bytes())
	})
}

func TestRecordMatchesTheVerdict(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		in := prInput(t)
		id := e.record(t, in)
		if !evidence.ValidID(id) || id != e.rec.ID(in.Scan) {
			t.Fatalf("id %q, want the scan's derived id %q", id, e.rec.ID(in.Scan))
		}
		s, err := e.rec.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(s.Raw); hex.EncodeToString(sum[:]) != s.Hash {
			t.Errorf("hash %s is not the SHA-256 of the stored bytes", s.Hash)
		}
		rec := s.Record
		pol := fixturePolicy(t)
		if rec.Policy.SHA256 != pol.Hash() || !strings.HasPrefix(rec.Policy.SHA256, pol.ShortHash()) {
			t.Errorf("policy hash %s, want %s (check runs show %s)", rec.Policy.SHA256, pol.Hash(), pol.ShortHash())
		}
		if rec.Policy.Content != string(pol.Canonical()) || sha256Hex([]byte(rec.Policy.Content)) != rec.Policy.SHA256 {
			t.Errorf("policy content %s is not the canonical policy %s with its hash", rec.Policy.Content, pol.Canonical())
		}
		if rec.VulnDB == nil || !rec.VulnDB.UpdatedAt.Equal(dbDate) {
			t.Errorf("vulnerability DB = %+v, want %s", rec.VulnDB, dbDate)
		}
		if rec.Repository != "Acme/Widgets" || rec.Seq != 1 || rec.PrevHash != "" || rec.Event.PullRequest != 7 || rec.Commit.Base != baseSHA {
			t.Errorf("record header = %+v %+v %+v", rec.Repository, rec.Event, rec.Commit)
		}
		if rec.Decision != evidence.Overall(in.Verdicts) || rec.Decision != "failure" {
			t.Errorf("decision %s, want failure", rec.Decision)
		}
		if len(rec.Checks) != len(in.Verdicts) {
			t.Fatalf("%d checks, want %d", len(rec.Checks), len(in.Verdicts))
		}
		for i, v := range in.Verdicts {
			c := rec.Checks[i]
			res := findResult(in.Results, v.Check)
			if c.Name != v.Check || c.Conclusion != string(v.Conclusion) || c.Mode != v.Mode || c.Title != v.Title || c.CheckRunID != in.Scan.CheckRuns[v.Check] {
				t.Errorf("check %s recorded as %+v", v.Check, c)
			}
			if c.Engine == nil || *c.Engine != res.Engine {
				t.Errorf("%s engine %+v, want %+v", v.Check, c.Engine, res.Engine)
			}
			if len(c.Findings) != len(v.Findings) {
				t.Fatalf("%s: %d findings, want %d", v.Check, len(c.Findings), len(v.Findings))
			}
			for j, f := range v.Findings {
				got := c.Findings[j]
				if got.Fingerprint != f.Fingerprint || got.Status != string(f.Status) || got.Blocking != f.Blocking || got.Match != f.Match {
					t.Errorf("%s finding %d = %+v, want %+v", v.Check, j, got, f)
				}
			}
			// Whether the scanner or the policy recorded a suppression, it
			// is recorded once.
			want := map[string]bool{}
			for _, sp := range append(append([]checks.Suppressed(nil), res.Suppressed...), v.Suppressed...) {
				want[sp.Finding.Fingerprint+sp.Reason] = true
			}
			got := map[string]bool{}
			for _, x := range c.Exceptions {
				got[x.Finding.Fingerprint+x.Reason] = true
			}
			if len(c.Exceptions) != len(want) || len(got) != len(want) {
				t.Errorf("%s: exceptions %+v, want one each of %v", v.Check, c.Exceptions, want)
			}
		}
		iac := rec.Checks[2]
		if len(iac.Exceptions) != 1 || !strings.Contains(iac.Exceptions[0].Reason, "@acme/platform") || !strings.Contains(iac.Exceptions[0].Reason, "2027-06-30") {
			t.Errorf("IaC exception = %+v, want its owner and expiry", iac.Exceptions)
		}
		if rec.Timings.DurationMS != 83_000 || !rec.Timings.StartedAt.Equal(started) {
			t.Errorf("timings = %+v", rec.Timings)
		}
		// The SBOM: stored gzipped, returned as it was, listing the packages.
		doc := findResult(in.Results, checks.Dependencies).SBOM
		if rec.SBOM == nil || rec.SBOM.Components != 2 || rec.SBOM.SpecVersion != "1.6" || rec.SBOM.SHA256 != sha256Hex(doc) {
			t.Errorf("SBOM = %+v", rec.SBOM)
		}
		for name, get := range map[string]func() ([]byte, error){
			"by record": func() ([]byte, error) { return e.rec.SBOM(e.ctx, id) },
			"by commit": func() ([]byte, error) { _, b, err := e.rec.CommitSBOM(e.ctx, "acme/widgets", headSHA); return b, err },
		} {
			b, err := get()
			if err != nil || !bytes.Equal(b, doc) {
				t.Errorf("SBOM %s = %d bytes, %v; want the scanner's %d", name, len(b), err, len(doc))
				continue
			}
			var bom cdx.BOM
			if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil || len(*bom.Components) != 2 {
				t.Errorf("SBOM %s does not decode: %v", name, err)
			}
		}
	})
}

func TestRecordKeepsNoSecret(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		in := prInput(t)
		// Whatever a scanner wrote in a secret's message stays out.
		const raw = "AKIAQYLPMN5HHHFPZAM2"
		in.Verdicts[0].Findings[0].Message = "matched " + raw
		findResult(in.Results, checks.Secrets).Suppressed[0].Finding.Message = "matched " + raw
		s, err := e.rec.Get(e.ctx, e.record(t, in))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(s.Raw, []byte(raw)) {
			t.Errorf("the record carries the raw secret: %s", s.Raw)
		}
		if s.Record.Checks[0].Findings[0].Match != "AKIA************MPLE" {
			t.Errorf("the redacted match is missing")
		}
	})
}

func TestRecordIsIdempotentAndReRunsChain(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		in := prInput(t)
		first := e.record(t, in)
		// A retried job records the same scan again: nothing new.
		if again := e.record(t, in); again != first {
			t.Errorf("retry recorded %s, want %s", again, first)
		}
		rerun := prInput(t)
		rerun.Scan.DeliveryID = "a-rerun-delivery"
		rerun.Scan.Trigger = "rerun by @alice"
		second := e.record(t, rerun)
		if second == first {
			t.Fatal("a re-run must get its own record")
		}
		a, _ := e.rec.Get(e.ctx, first)
		b, err := e.rec.Get(e.ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		if b.Record.Seq != 2 || b.Record.PrevHash != a.Hash || b.Record.Event.Trigger != "rerun by @alice" {
			t.Errorf("re-run record: seq %d prev %s trigger %q; want 2, %s, the re-run's trigger", b.Record.Seq, b.Record.PrevHash, b.Record.Event.Trigger, a.Hash)
		}
		if v, err := e.rec.Verify(e.ctx, "acme/widgets"); err != nil || !v.OK || v.Records != 2 || v.HeadHash != b.Hash {
			t.Errorf("verify = %+v, %v", v, err)
		}
	})
}

func TestIDsAreDerivedFromTheScanAndTheDatabase(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		s := prInput(t).Scan
		again, err := evidence.New(e.ctx, evidence.Config{Store: e.st})
		if err != nil {
			t.Fatal(err)
		}
		other := newEnv(t, driver)
		baseline := s
		baseline.HeadSHA = "" // a baseline's commit is resolved later: the id must not depend on it
		moved := s
		moved.HeadSHA = "another"
		tests := []struct {
			name string
			a, b string
			same bool
		}{
			{"another replica on the same database", e.rec.ID(s), again.ID(s), true},
			{"head resolved later", e.rec.ID(baseline), e.rec.ID(moved), true},
			{"repository case", e.rec.ID(s), e.rec.ID(withRepo(s, "acme/widgets")), true},
			{"another delivery", e.rec.ID(s), e.rec.ID(withDelivery(s, "d2")), false},
			{"another repository", e.rec.ID(s), e.rec.ID(withRepo(s, "acme/gadgets")), false},
			{"another database", e.rec.ID(s), other.rec.ID(s), false},
		}
		for _, tt := range tests {
			if (tt.a == tt.b) != tt.same || !evidence.ValidID(tt.a) || !evidence.ValidID(tt.b) {
				t.Errorf("%s: %s vs %s, same = %v", tt.name, tt.a, tt.b, tt.same)
			}
		}
	})
}

func withRepo(s jobs.Scan, r string) jobs.Scan     { s.Repo = r; return s }
func withDelivery(s jobs.Scan, d string) jobs.Scan { s.DeliveryID = d; return s }

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef":  true,
		"0123456789ABCDEF0123456789abcdef":  false,
		"0123456789abcdef0123456789abcde":   false,
		"0123456789abcdef0123456789abcdef0": false,
		"../../etc/passwd":                  false,
		"":                                  false,
	} {
		if got := evidence.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestRecordRefusesAnSBOMThatIsNotCycloneDX(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		in := prInput(t)
		findResult(in.Results, checks.Dependencies).SBOM = []byte(`{"spdxVersion":"SPDX-2.3"}`)
		id := e.record(t, in)
		s, err := e.rec.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Record.SBOM == nil || !strings.Contains(s.Record.SBOM.Error, "not CycloneDX") || s.Record.SBOM.SHA256 != "" {
			t.Errorf("SBOM = %+v, want the reason it was not stored", s.Record.SBOM)
		}
		if _, err := e.rec.SBOM(e.ctx, id); !errors.Is(err, evidence.ErrNotFound) {
			t.Errorf("SBOM lookup: %v, want ErrNotFound", err)
		}
		if v, err := e.rec.Verify(e.ctx, "acme/widgets"); err != nil || !v.OK {
			t.Errorf("verify = %+v, %v", v, err)
		}
	})
}

func TestOverall(t *testing.T) {
	v := func(cs ...checks.Conclusion) []checks.Verdict {
		var out []checks.Verdict
		for _, c := range cs {
			out = append(out, checks.Verdict{Conclusion: c})
		}
		return out
	}
	tests := []struct {
		in   []checks.Verdict
		want string
	}{
		{v(checks.ConclusionSuccess, checks.ConclusionFailure, checks.ConclusionNeutral), "failure"},
		{v(checks.ConclusionSuccess, checks.ConclusionNeutral, checks.ConclusionSkipped), "neutral"},
		{v(checks.ConclusionSkipped, checks.ConclusionSuccess), "success"},
		{v(checks.ConclusionSkipped), "skipped"},
		{nil, "skipped"},
	}
	for _, tt := range tests {
		if got := evidence.Overall(tt.in); got != tt.want {
			t.Errorf("Overall(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func findResult(rs []*checks.Result, check string) *checks.Result {
	for _, r := range rs {
		if r.Check == check {
			return r
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The record lists the custom checks the scan was given, with their
// content hashes and whether they ran, and names the custom check behind a
// finding.
func TestRecordListsCustomChecks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		in := prInput(t)
		s, err := e.rec.Get(e.ctx, e.record(t, in))
		if err != nil {
			t.Fatal(err)
		}
		var iac *evidence.Check
		for i := range s.Record.Checks {
			if s.Record.Checks[i].Name == checks.IaC {
				iac = &s.Record.Checks[i]
			}
		}
		if iac == nil {
			t.Fatal("no iac check recorded")
		}
		want := findResult(in.Results, checks.IaC).Custom
		if len(iac.CustomChecks) != len(want) {
			t.Fatalf("custom checks = %+v, want %d", iac.CustomChecks, len(want))
		}
		for i, c := range iac.CustomChecks {
			w := want[i]
			if c.Name != w.Name || c.SHA256 != w.SHA256 || c.Origin != w.Origin || c.Applied != (w.Rejected == "") || c.Rejected != w.Rejected || c.Line != w.Line {
				t.Errorf("custom check %d recorded as %+v, want %+v", i, c, w)
			}
		}
		found := false
		for _, f := range iac.Findings {
			if f.RuleID == "ORG-K8S-001" {
				found = f.CustomCheck == want[0].Name && f.Blocking
			}
		}
		if !found {
			t.Errorf("the custom finding is not recorded with its check: %+v", iac.Findings)
		}
	})
}
