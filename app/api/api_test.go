package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/gatehouse/gatehouse/app/api"
	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func paths(e *env) []string {
	return []string{
		"/api/v1/verdicts", "/api/v1/verdicts?repo=acme/widgets", "/api/v1/verdicts/" + e.widgets[0],
		"/api/v1/sbom/acme/widgets/" + sha, "/api/v1/chain?repo=acme/widgets",
		"/api/v1/keys", "/api/v1/verdicts/" + e.widgets[1] + "/attestation", "/api/v1/verdicts/" + e.widgets[1] + "/attestations",
	}
}

func TestAPIIsOffWithoutTokens(t *testing.T) {
	e := newEnv(t, store.DriverSQLite, api.Config{Tokens: []string{"", "  "}})
	for _, p := range append(paths(e), "/v/"+e.widgets[0]) {
		if w := e.get(t, p, bearer("")); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
}

func TestAPIRejectsMissingOrWrongTokens(t *testing.T) {
	e := newEnv(t, store.DriverSQLite, api.Config{Tokens: tokens})
	tests := []struct {
		name string
		auth string
		want int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", bearer("wrong"), http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"a token's prefix", bearer(tokens[0][:10]), http.StatusUnauthorized},
		{"a token and more", bearer(tokens[0] + "x"), http.StatusUnauthorized},
		{"basic auth", "Basic " + tokens[0], http.StatusUnauthorized},
		{"token without scheme", tokens[0], http.StatusUnauthorized},
		{"first token", bearer(tokens[0]), http.StatusOK},
		{"second token", bearer(tokens[1]), http.StatusOK},
		{"scheme in any case", "bearer " + tokens[1], http.StatusOK},
	}
	for _, tt := range tests {
		for _, p := range paths(e) {
			w := e.get(t, p, tt.auth)
			if w.Code != tt.want {
				t.Errorf("%s, %s: %d, want %d", tt.name, p, w.Code, tt.want)
			}
			if tt.want == http.StatusUnauthorized && (w.Header().Get("WWW-Authenticate") == "" || strings.Contains(w.Body.String(), "acme")) {
				t.Errorf("%s, %s: 401 without a challenge, or with data: %s", tt.name, p, w.Body)
			}
		}
	}
}

func TestVerdictsNeverShowAnotherRepository(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, api.Config{Tokens: tokens})
		tests := []struct {
			query string
			want  []string
		}{
			{"repo=acme/widgets", []string{e.widgets[1], e.widgets[0]}},
			{"repo=ACME/Widgets&sha=" + sha, []string{e.widgets[1], e.widgets[0]}},
			{"repo=acme/gadgets&sha=" + sha, []string{e.gadgets}},
			{"repo=acme/gadgets&sha=" + strings.ToUpper(sha), []string{e.gadgets}},
			{"repo=acme/widget", nil},
			{"repo=acme/widgets&decision=success", nil},
			{"sha=" + sha, []string{e.gadgets, e.widgets[1], e.widgets[0]}},
			{"repo=acme/widgets&since=2099-01-01", nil},
		}
		for _, tt := range tests {
			w := e.get(t, "/api/v1/verdicts?"+tt.query, bearer(tokens[0]))
			var page evidence.Page
			if err := json.Unmarshal(w.Body.Bytes(), &page); w.Code != http.StatusOK || err != nil {
				t.Fatalf("%s: %d %v %s", tt.query, w.Code, err, w.Body)
			}
			var got []string
			for _, v := range page.Verdicts {
				got = append(got, v.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: %v, want %v", tt.query, got, tt.want)
			}
		}
		// acme/gadgets has no SBOM at the commit acme/widgets has one at.
		if w := e.get(t, "/api/v1/sbom/acme/gadgets/"+sha, bearer(tokens[0])); w.Code != http.StatusNotFound {
			t.Errorf("another repository's SBOM: %d %s", w.Code, w.Body)
		}
		var v evidence.Verification
		w := e.get(t, "/api/v1/chain?repo=acme/gadgets", bearer(tokens[0]))
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || !v.OK || v.Repo != "acme/gadgets" || v.Records != 1 {
			t.Errorf("chain of acme/gadgets = %+v, %v", v, err)
		}
	})
}

func TestVerdictsPageAndRefuseBadQueries(t *testing.T) {
	e := newEnv(t, store.DriverSQLite, api.Config{Tokens: tokens})
	var first, second evidence.Page
	w := e.get(t, "/api/v1/verdicts?limit=2", bearer(tokens[0]))
	if err := json.Unmarshal(w.Body.Bytes(), &first); err != nil || len(first.Verdicts) != 2 || first.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	w = e.get(t, "/api/v1/verdicts?limit=2&cursor="+first.NextCursor, bearer(tokens[0]))
	if err := json.Unmarshal(w.Body.Bytes(), &second); err != nil || len(second.Verdicts) != 1 || second.NextCursor != "" || second.Verdicts[0].ID != e.widgets[0] {
		t.Errorf("second page = %+v, %v", second, err)
	}
	for _, q := range []string{"repo=acme", "repo=acme/w/x", "repo=../etc", "sha=abc", "since=yesterday", "decision=passed",
		"cursor=zzz", "limit=0", "limit=201", "limit=x"} {
		if w := e.get(t, "/api/v1/verdicts?"+q, bearer(tokens[0])); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, w.Code)
		}
	}
	for _, p := range []string{"/api/v1/chain", "/api/v1/chain?repo=x", "/api/v1/sbom/acme/widgets/abc"} {
		if w := e.get(t, p, bearer(tokens[0])); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", p, w.Code)
		}
	}
	for _, p := range []string{"/api/v1/verdicts/0123456789abcdef0123456789abcdef", "/api/v1/verdicts/nope", "/api/v1/chain?repo=acme/none",
		"/api/v1/sbom/acme/widgets/" + strings.Repeat("0", 40)} {
		if w := e.get(t, p, bearer(tokens[0])); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
}

func TestVerdictSBOMAndChain(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, api.Config{Tokens: tokens})
		w := e.get(t, "/api/v1/verdicts/"+e.widgets[1], bearer(tokens[1]))
		var got struct {
			Hash   string          `json:"hash"`
			Record json.RawMessage `json:"record"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != http.StatusOK || err != nil {
			t.Fatalf("%d %v", w.Code, err)
		}
		sum := sha256.Sum256(got.Record)
		if hex.EncodeToString(sum[:]) != got.Hash {
			t.Errorf("the answer's record does not hash to its hash: the bytes were changed on the way")
		}
		var rec evidence.Record
		_ = json.Unmarshal(got.Record, &rec)
		if rec.ID != e.widgets[1] || rec.Seq != 2 || rec.Repository != "acme/widgets" || rec.Checks[0].Findings[0].Match != "AKIA************MPLE" {
			t.Errorf("record = %+v", rec)
		}
		w = e.get(t, "/api/v1/sbom/acme/widgets/"+sha, bearer(tokens[0]))
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != api.CycloneDXType || w.Header().Get("X-Gatehouse-Evidence-Id") != e.widgets[1] {
			t.Fatalf("SBOM: %d %v", w.Code, w.Header())
		}
		var bom cdx.BOM
		if err := cdx.NewBOMDecoder(bytes.NewReader(w.Body.Bytes()), cdx.BOMFileFormatJSON).Decode(&bom); err != nil || (*bom.Components)[0].Name != "lodash" {
			t.Errorf("SBOM does not list lodash: %v", err)
		}
		var v evidence.Verification
		w = e.get(t, "/api/v1/chain?repo=acme/widgets", bearer(tokens[0]))
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || !v.OK || v.Records != 2 || v.HeadHash != got.Hash {
			t.Errorf("chain = %+v, %v", v, err)
		}
		drop := "DROP TRIGGER evidence_records_append_only"
		if driver == store.DriverPostgres {
			drop += " ON evidence_records"
		}
		storetest.Exec(t, e.cfg, drop+"; UPDATE evidence_records SET decision = 'success' WHERE id = '"+e.widgets[0]+"'")
		w = e.get(t, "/api/v1/chain?repo=acme/widgets", bearer(tokens[0]))
		v = evidence.Verification{}
		if err := json.Unmarshal(w.Body.Bytes(), &v); w.Code != http.StatusOK || err != nil || v.OK || v.Broken == nil || v.Broken.Seq != 1 {
			t.Errorf("tampered chain = %d %+v, %v", w.Code, v, err)
		}
	})
}
