package api_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/api"
	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// publishedKeys are the keys GET /api/v1/keys lists, parsed from their PEM.
func publishedKeys(t *testing.T, e *env) []attest.PublicKey {
	t.Helper()
	w := e.get(t, "/api/v1/keys", bearer(tokens[0]))
	if w.Code != http.StatusOK {
		t.Fatalf("/api/v1/keys: %d %s", w.Code, w.Body)
	}
	var body struct{ Keys []evidence.SigningKey }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	var out []attest.PublicKey
	for _, k := range body.Keys {
		pks, err := attest.ParsePublicKeys([]byte(k.PublicKey))
		if err != nil || len(pks) != 1 || pks[0].KeyID != k.KeyID || string(pks[0].Algorithm) != k.Algorithm {
			t.Fatalf("key %+v: %v", k, err)
		}
		out = append(out, pks...)
	}
	return out
}

func TestAttestationEndpoints(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, api.Config{Tokens: tokens})
		keys := publishedKeys(t, e)
		if len(keys) != 1 || keys[0].KeyID != e.signer.Public().KeyID {
			t.Fatalf("published keys %+v, want the signer's", keys)
		}

		id := e.widgets[1]
		w := e.get(t, "/api/v1/verdicts/"+id+"/attestation", bearer(tokens[1]))
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != api.DSSEType || w.Header().Get("X-Gatehouse-Key-Id") != keys[0].KeyID {
			t.Fatalf("attestation: %d %v %s", w.Code, w.Header(), w.Body)
		}
		v, err := attest.Verify(t.Context(), w.Body.Bytes(), keys)
		if err != nil {
			t.Fatalf("the served envelope does not verify with the published key: %v", err)
		}
		var st struct{ Predicate evidence.VerdictPredicate }
		if err := json.Unmarshal(v.Payload, &st); err != nil || v.Statement.PredicateType != evidence.VerdictPredicateType ||
			st.Predicate.Evidence.ID != id || v.Statement.Subject[0].Digest["gitCommit"] != sha {
			t.Errorf("statement %s (%v)", v.Payload, err)
		}
		rec, _ := e.rec.Get(t.Context(), id)
		if st.Predicate.Evidence.Hash != rec.Hash {
			t.Errorf("predicate names hash %s, the record's is %s", st.Predicate.Evidence.Hash, rec.Hash)
		}

		w = e.get(t, "/api/v1/verdicts/"+id+"/attestations", bearer(tokens[0]))
		var list struct{ Attestations []evidence.Attestation }
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != http.StatusOK || len(list.Attestations) != 2 {
			t.Fatalf("attestations: %d %s (%v)", w.Code, w.Body, err)
		}
		for i, want := range []string{evidence.VerdictPredicateType, evidence.SBOMPredicateType} {
			a := list.Attestations[i]
			v, err := attest.Verify(t.Context(), a.Envelope, keys)
			if a.PredicateType != want || a.KeyID != keys[0].KeyID || err != nil || v.Statement.PredicateType != want {
				t.Errorf("attestation %d: %s %s %v", i, a.PredicateType, a.KeyID, err)
			}
		}
		// A push without an SBOM has the verdict's statement only.
		w = e.get(t, "/api/v1/verdicts/"+e.gadgets+"/attestations", bearer(tokens[0]))
		if !strings.Contains(w.Body.String(), evidence.VerdictPredicateType) || strings.Contains(w.Body.String(), evidence.SBOMPredicateType) {
			t.Errorf("attestations of a verdict without SBOM: %s", w.Body)
		}

		// Recorded before the key existed: listed, but nothing signed.
		unsigned := e.widgets[0]
		if w := e.get(t, "/api/v1/verdicts/"+unsigned+"/attestation", bearer(tokens[0])); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "without a signing key") {
			t.Errorf("unsigned verdict: %d %s", w.Code, w.Body)
		}
		if w := e.get(t, "/api/v1/verdicts/"+unsigned+"/attestations", bearer(tokens[0])); w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"attestations":[]}` {
			t.Errorf("attestations of an unsigned verdict: %d %s", w.Code, w.Body)
		}
		for _, p := range []string{"/api/v1/verdicts/0123456789abcdef0123456789abcdef/attestation", "/api/v1/verdicts/nope/attestations"} {
			if w := e.get(t, p, bearer(tokens[0])); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "no verdict") {
				t.Errorf("%s: %d %s", p, w.Code, w.Body)
			}
		}
		for _, p := range []string{"/api/v1/keys", "/api/v1/verdicts/" + id + "/attestation", "/api/v1/verdicts/" + id + "/attestations"} {
			if w := e.get(t, p, bearer("wrong")); w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "BEGIN") || strings.Contains(w.Body.String(), "payload") {
				t.Errorf("%s with a wrong token: %d %s", p, w.Code, w.Body)
			}
		}
	})
}

func TestDetailsPageLinksTheAttestations(t *testing.T) {
	e := newEnv(t, store.DriverSQLite, api.Config{Details: true})
	id := e.widgets[1]
	w := e.get(t, "/v/"+id, "")
	if !strings.Contains(w.Body.String(), `href="`+id+`/attestations.intoto.jsonl"`) || !strings.Contains(w.Body.String(), e.signer.Public().KeyID) {
		t.Errorf("the page does not link the attestations:\n%s", w.Body)
	}
	w = e.get(t, "/v/"+id+"/attestations.intoto.jsonl", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != api.BundleType || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("bundle: %d %v", w.Code, w.Header())
	}
	sc := bufio.NewScanner(w.Body)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		if _, err := attest.Verify(t.Context(), sc.Bytes(), []attest.PublicKey{e.signer.Public()}); err != nil {
			t.Errorf("line %d: %v", n+1, err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d envelopes, want the verdict's and the SBOM's", n)
	}
	// Unsigned or unknown: no link, 404.
	if w := e.get(t, "/v/"+e.widgets[0], ""); strings.Contains(w.Body.String(), "attestations.intoto.jsonl") {
		t.Error("an unsigned verdict's page links attestations")
	}
	for _, p := range []string{"/v/" + e.widgets[0] + "/attestations.intoto.jsonl", "/v/0123456789abcdef0123456789abcdef/attestations.intoto.jsonl"} {
		if w := e.get(t, p, ""); w.Code != http.StatusNotFound || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
}
