package evidence_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/secrets"
)

func newKey(t *testing.T, alg attest.Algorithm) (*attest.Signer, []byte) {
	t.Helper()
	s, pemBytes, err := attest.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s, pemBytes
}

// signing is a Recorder that signs with s, on e's store.
func (e *env) signing(t *testing.T, s *attest.Signer) *evidence.Recorder {
	t.Helper()
	r, err := evidence.New(e.ctx, evidence.Config{Store: e.st, Now: e.clock.Now, Logger: storetest.Logger(t), Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// envelope is a DSSE envelope as the spec describes it.
type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// verifyIndependently checks an envelope with the standard library only,
// against a key as GET /api/v1/keys publishes it: the PAE is built here
// from the DSSE spec, not by gatehouse or go-securesystemslib. It returns
// the signed statement.
func verifyIndependently(t *testing.T, raw []byte, key evidence.SigningKey) ([]byte, error) {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d ", len(env.PayloadType), env.PayloadType, len(body))
	pae = append(pae, body...)
	block, _ := pem.Decode([]byte(key.PublicKey))
	if block == nil {
		t.Fatalf("key %s is not PEM", key.KeyID)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, err
		}
		ok := false
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			sum := sha256.Sum256(pae)
			ok = ecdsa.VerifyASN1(k, sum[:], sig)
		case ed25519.PublicKey:
			ok = ed25519.Verify(k, pae, sig)
		}
		if ok {
			return body, nil
		}
	}
	return nil, errors.New("no signature verifies")
}

// inToto parses a statement with the in-toto attestation library and
// validates it as a Statement v1.
func inToto(t *testing.T, payload []byte) *intoto.Statement {
	t.Helper()
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		t.Fatalf("not an in-toto statement: %v\n%s", err, payload)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("in-toto Validate: %v\n%s", err, payload)
	}
	return &st
}

func keyByID(t *testing.T, keys []evidence.SigningKey, id string) evidence.SigningKey {
	t.Helper()
	for _, k := range keys {
		if k.KeyID == id {
			return k
		}
	}
	t.Fatalf("key %s is not listed in %+v", id, keys)
	return evidence.SigningKey{}
}

func TestAttestationsVerifyWithThePublishedKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		for _, alg := range []attest.Algorithm{attest.ECDSAP256, attest.Ed25519} {
			t.Run(string(alg), func(t *testing.T) {
				e := newEnv(t, driver)
				s, _ := newKey(t, alg)
				rec := e.signing(t, s)
				in := prInput(t)
				id, err := rec.Record(e.ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				stored, err := rec.Get(e.ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				keys, err := rec.SigningKeys(e.ctx)
				if err != nil || len(keys) != 1 || keys[0].KeyID != s.Public().KeyID || keys[0].Algorithm != string(alg) {
					t.Fatalf("SigningKeys = %+v, %v", keys, err)
				}
				as, err := rec.Attestations(e.ctx, id)
				if err != nil || len(as) != 2 {
					t.Fatalf("Attestations = %d, %v; want the verdict and the SBOM", len(as), err)
				}
				if as[0].PredicateType != evidence.VerdictPredicateType || as[1].PredicateType != evidence.SBOMPredicateType {
					t.Errorf("predicate types %s, %s", as[0].PredicateType, as[1].PredicateType)
				}
				for _, a := range as {
					var env envelope
					if err := json.Unmarshal(a.Envelope, &env); err != nil || env.PayloadType != "application/vnd.in-toto+json" ||
						len(env.Signatures) != 1 || env.Signatures[0].KeyID != a.KeyID {
						t.Fatalf("%s: envelope %s (%v)", a.PredicateType, a.Envelope, err)
					}
					payload, err := verifyIndependently(t, a.Envelope, keyByID(t, keys, a.KeyID))
					if err != nil {
						t.Fatalf("%s: %v", a.PredicateType, err)
					}
					st := inToto(t, payload)
					if st.GetPredicateType() != a.PredicateType || len(st.GetSubject()) != 1 {
						t.Errorf("%s: statement %s", a.PredicateType, payload)
					}
					sub := st.GetSubject()[0]
					if sub.GetName() != "git+https://github.com/Acme/Widgets" || sub.GetDigest()["gitCommit"] != headSHA || len(sub.GetDigest()) != 1 {
						t.Errorf("%s: subject %v", a.PredicateType, sub)
					}
					v, err := attest.Verify(e.ctx, a.Envelope, []attest.PublicKey{s.Public()})
					if err != nil || !bytes.Equal(v.Payload, payload) {
						t.Errorf("%s: attest.Verify = %v", a.PredicateType, err)
					}
				}
				// The verdict names its record by id and hash, and says what
				// the record says.
				var st struct{ Predicate evidence.VerdictPredicate }
				payload, _ := verifyIndependently(t, as[0].Envelope, keys[0])
				if err := json.Unmarshal(payload, &st); err != nil {
					t.Fatal(err)
				}
				p := st.Predicate
				if p.Evidence.ID != id || p.Evidence.Hash != stored.Hash || p.Evidence.Seq != 1 || p.Decision != "failure" ||
					p.Policy.SHA256 != stored.Record.Policy.SHA256 || p.Policy.SHA256 == "" {
					t.Errorf("predicate evidence %+v decision %s policy %+v", p.Evidence, p.Decision, p.Policy)
				}
				if got, _ := json.Marshal(p.Checks); !bytes.Equal(got, mustJSON(t, stored.Record.Checks)) {
					t.Errorf("predicate checks differ from the record's:\n%s", got)
				}
				// The SBOM statement's predicate is the stored CycloneDX
				// document.
				doc, err := rec.SBOM(e.ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				payload, _ = verifyIndependently(t, as[1].Envelope, keys[0])
				var sb struct{ Predicate json.RawMessage }
				_ = json.Unmarshal(payload, &sb)
				if !jsonEqual(t, sb.Predicate, doc) {
					t.Errorf("SBOM predicate differs from the stored SBOM:\n%s", sb.Predicate)
				}
			})
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return bytes.Equal(mustJSON(t, x), mustJSON(t, y))
}

func TestAttestationGolden(t *testing.T) {
	e := newEnv(t, store.DriverSQLite)
	s, _ := newKey(t, attest.ECDSAP256)
	rec := e.signing(t, s)
	in := prInput(t)
	in.ID = "0123456789abcdef0123456789abcdef"
	id, err := rec.Record(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	as, err := rec.Attestations(e.ctx, id)
	if err != nil || len(as) != 2 {
		t.Fatalf("%d attestations, %v", len(as), err)
	}
	for i, name := range []string{"verdict.statement.json", "sbom.statement.json"} {
		v, err := attest.Verify(e.ctx, as[i].Envelope, []attest.PublicKey{s.Public()})
		if err != nil {
			t.Fatal(err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, v.Payload, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteByte('\n')
		golden(t, name, pretty.Bytes())
	}
}

func TestRotatedKeyStillVerifies(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		old, _ := newKey(t, attest.ECDSAP256)
		in := prInput(t)
		first, err := e.signing(t, old).Record(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		// The operator rotates: gatehouse restarts with a new key.
		e.clock.Set(e.clock.Now().Add(24 * time.Hour))
		fresh, _ := newKey(t, attest.Ed25519)
		rec := e.signing(t, fresh)
		in.Scan.DeliveryID = "after-the-rotation"
		second, err := rec.Record(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := rec.SigningKeys(e.ctx)
		if err != nil || len(keys) != 2 || keys[0].KeyID != fresh.Public().KeyID || keys[1].KeyID != old.Public().KeyID ||
			!keys[0].AddedAt.After(keys[1].AddedAt) {
			t.Fatalf("keys after a rotation: %+v, %v; want the new one first, the old one kept", keys, err)
		}
		// Restarting with a listed key lists it once.
		e.signing(t, old)
		if again, _ := rec.SigningKeys(e.ctx); len(again) != 2 {
			t.Errorf("%d keys after restarting with the old one", len(again))
		}
		var published []attest.PublicKey
		for _, k := range keys {
			pk, err := attest.ParsePublicKeys([]byte(k.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			published = append(published, pk...)
		}
		for _, c := range []struct {
			id          string
			signer, not evidence.SigningKey
		}{{first, keys[1], keys[0]}, {second, keys[0], keys[1]}} {
			as, err := rec.Attestations(e.ctx, c.id)
			if err != nil || len(as) != 2 {
				t.Fatalf("%d attestations, %v", len(as), err)
			}
			for _, a := range as {
				if a.KeyID != c.signer.KeyID {
					t.Errorf("%s of %s signed by %s, want %s", a.PredicateType, c.id, a.KeyID, c.signer.KeyID)
				}
				if _, err := verifyIndependently(t, a.Envelope, c.signer); err != nil {
					t.Errorf("%s of %s with its listed key: %v", a.PredicateType, c.id, err)
				}
				if _, err := verifyIndependently(t, a.Envelope, c.not); err == nil {
					t.Errorf("%s of %s verifies with the other key", a.PredicateType, c.id)
				}
				if v, err := attest.Verify(e.ctx, a.Envelope, published); err != nil || v.KeyID != c.signer.KeyID {
					t.Errorf("%s of %s with every published key: %v", a.PredicateType, c.id, err)
				}
			}
		}
	})
}

// plantedSecrets are the fixture repository's secrets, found with
// patterns of their own (not gitleaks).
func plantedSecrets(t *testing.T, dir string) []string {
	t.Helper()
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`AKIA[A-Z2-7]{16}`),
		regexp.MustCompile(`ghp_[0-9A-Za-z]{36}`),
		regexp.MustCompile(`(?m)^[A-Za-z0-9+/]{60,}$`), // the PEM key's lines
	}
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, p := range patterns {
			for _, m := range p.FindAll(b, -1) {
				out = append(out, string(m))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The secrets check's real findings on the fixture repository, through the
// real policy, into signed statements: no secret reaches any predicate, nor
// the signing key, however the findings were worded.
func TestNoSecretInAnyPredicate(t *testing.T) {
	const repo = "../../testdata/repos/secrets"
	planted := plantedSecrets(t, repo)
	if len(planted) < 3 {
		t.Fatalf("found %d planted secrets in %s; the test needs them", len(planted), repo)
	}
	sc, err := secrets.New(secrets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sc.Run(context.Background(), checks.Target{Dir: repo})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) == 0 {
		t.Fatal("gitleaks found nothing in the fixture repository")
	}
	// A scanner that wrote the secret into a message must not leak it
	// either.
	res.Findings[0].Message = "matched " + planted[0]
	in := prInput(t)
	in.Results[0] = res
	pol := policy.Default()
	in.Verdicts = policy.Evaluate(policy.Input{Policy: pol, Results: in.Results, Now: started})

	e := newEnv(t, store.DriverSQLite)
	s, privPEM := newKey(t, attest.ECDSAP256)
	rec := e.signing(t, s)
	id, err := rec.Record(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	as, err := rec.Attestations(e.ctx, id)
	if err != nil || len(as) != 2 {
		t.Fatalf("%d attestations, %v", len(as), err)
	}
	block, _ := pem.Decode(privPEM)
	forbidden := append(planted, string(privPEM), base64.StdEncoding.EncodeToString(block.Bytes)[:40])
	redacted := 0
	for _, a := range as {
		v, err := attest.Verify(e.ctx, a.Envelope, []attest.PublicKey{s.Public()})
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range forbidden {
			for what, b := range map[string][]byte{"statement": v.Payload, "envelope": a.Envelope} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("the %s %s carries a secret (%.8s…)", a.PredicateType, what, secret)
				}
			}
		}
		redacted += bytes.Count(v.Payload, []byte(`REDACTED`))
	}
	if redacted == 0 {
		t.Error("no redacted match in the verdict: the findings did not reach it")
	}
}

func TestUnsignedRecordsAndRetries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		// e.rec has no signer: its records have no attestation.
		unsigned := e.record(t, prInput(t))
		if as, err := e.rec.Attestations(e.ctx, unsigned); err != nil || len(as) != 0 {
			t.Errorf("unsigned record: %d attestations, %v", len(as), err)
		}
		if _, err := e.rec.Attestations(e.ctx, "ffffffffffffffffffffffffffffffff"); !errors.Is(err, evidence.ErrNotFound) {
			t.Errorf("unknown record: %v", err)
		}
		if _, err := e.rec.Attestations(e.ctx, "../etc"); !errors.Is(err, evidence.ErrNotFound) {
			t.Errorf("malformed id: %v", err)
		}
		// A retried job records nothing new: the first envelope stays.
		s, _ := newKey(t, attest.ECDSAP256)
		rec := e.signing(t, s)
		in := prInput(t)
		in.Scan.DeliveryID = "signed"
		id, err := rec.Record(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := rec.Attestations(e.ctx, id)
		if again, err := rec.Record(e.ctx, in); err != nil || again != id {
			t.Fatalf("retry: %s, %v", again, err)
		}
		after, _ := rec.Attestations(e.ctx, id)
		if len(after) != 2 || !bytes.Equal(before[0].Envelope, after[0].Envelope) {
			t.Errorf("a retry changed the attestations")
		}
		// A verdict without an SBOM has the verdict's statement only.
		in.Scan.DeliveryID = "no-sbom"
		findResult(in.Results, checks.Dependencies).SBOM = nil
		id, err = rec.Record(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if as, _ := rec.Attestations(e.ctx, id); len(as) != 1 || as[0].PredicateType != evidence.VerdictPredicateType {
			t.Errorf("no SBOM: %+v", as)
		}
	})
}

func TestExportAttestationsAndPrune(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		s, _ := newKey(t, attest.ECDSAP256)
		rec := e.signing(t, s)
		var ids []string
		for i, repo := range []string{"acme/widgets", "acme/gadgets", "acme/widgets"} {
			e.clock.Set(started.Add(time.Duration(i) * time.Hour))
			in := prInput(t)
			in.Scan.Repo, in.Scan.DeliveryID = repo, fmt.Sprint("unsigned-", i)
			e.record(t, in) // written without a key: exported without attestations
			in.Scan.DeliveryID = fmt.Sprint("signed-", i)
			id, err := rec.Record(e.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		export := func(f evidence.ExportFilter) []string {
			var out bytes.Buffer
			n, err := rec.ExportAttestations(e.ctx, &out, f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			sc := bufio.NewScanner(&out)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				v, err := attest.Verify(e.ctx, sc.Bytes(), []attest.PublicKey{s.Public()})
				if err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				var st struct{ Predicate evidence.VerdictPredicate }
				_ = json.Unmarshal(v.Payload, &st)
				kind := "sbom"
				if v.Statement.PredicateType == evidence.VerdictPredicateType {
					kind = "verdict:" + st.Predicate.Evidence.ID[:4]
				}
				got = append(got, kind)
			}
			if n != len(got) {
				t.Errorf("ExportAttestations = %d, wrote %d lines", n, len(got))
			}
			return got
		}
		v := func(i int) string { return "verdict:" + ids[i][:4] }
		if got, want := export(evidence.ExportFilter{}), []string{v(0), "sbom", v(1), "sbom", v(2), "sbom"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("export all: %v, want %v", got, want)
		}
		if got, want := export(evidence.ExportFilter{Repo: "acme/widgets", Since: started.Add(time.Hour)}), []string{v(2), "sbom"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("export filtered: %v, want %v", got, want)
		}
		// Retention takes a record's attestations with it.
		e.clock.Set(started.Add(400 * 24 * time.Hour))
		if _, err := rec.Prune(e.ctx, 400*24*time.Hour-90*time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Attestations(e.ctx, ids[0]); !errors.Is(err, evidence.ErrNotFound) {
			t.Errorf("pruned record: %v", err)
		}
		if got := export(evidence.ExportFilter{}); len(got) != 2 || got[0] != v(2) {
			t.Errorf("export after pruning: %v", got)
		}
		if vs, err := rec.VerifyAll(e.ctx); err != nil || !vs[0].OK || !vs[1].OK {
			t.Errorf("chains after pruning: %+v, %v", vs, err)
		}
	})
}
