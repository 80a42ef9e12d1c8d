package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/api"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func TestDetailsPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, api.Config{Details: true}) // no tokens: the API is off, the pages are not
		id := e.widgets[0]
		s, err := e.rec.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		w := e.get(t, "/v/"+id, "")
		page := w.Body.String()
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("details page: %d %s", w.Code, page)
		}
		for _, want := range []string{
			s.Record.Decision, "acme/widgets", sha, s.Record.Policy.SHA256, s.Hash, "AKIA************MPLE", "gitleaks v8.30.1",
			"upgrade lodash 4.17.20 → 4.17.21", `href="` + id + `/sbom.cdx.json"`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		h := w.Header()
		if h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("security headers = %v", h)
		}
		w = e.get(t, "/v/"+id+"/sbom.cdx.json", "")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != api.CycloneDXType || !strings.Contains(w.Body.String(), "lodash") {
			t.Errorf("SBOM link: %d %s", w.Code, w.Body)
		}
		for _, p := range []string{
			"/v/0123456789abcdef0123456789abcdef", "/v/not-an-id", "/v/" + strings.ToUpper(id),
			"/v/" + e.gadgets + "/sbom.cdx.json", // a record without an SBOM
		} {
			if w := e.get(t, p, ""); w.Code != http.StatusNotFound || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d (%s), want an uncached 404", p, w.Code, w.Header().Get("Cache-Control"))
			}
		}
		if w := e.get(t, "/api/v1/verdicts/"+id, bearer(tokens[0])); w.Code != http.StatusNotFound {
			t.Errorf("API without tokens: %d, want 404", w.Code)
		}
	})
}

func TestDetailsPagesOffByDefault(t *testing.T) {
	e := newEnv(t, store.DriverSQLite, api.Config{Tokens: tokens})
	if w := e.get(t, "/v/"+e.widgets[0], ""); w.Code != http.StatusNotFound {
		t.Errorf("details page without a public URL: %d, want 404", w.Code)
	}
}

func TestDetailsURLAndTokens(t *testing.T) {
	if got := api.DetailsURL("https://gate.example.com/", "ab"); got != "https://gate.example.com/v/ab" {
		t.Errorf("DetailsURL = %s", got)
	}
	if got := strings.Join(api.ParseTokens(" a, b ,,c "), "|"); got != "a|b|c" {
		t.Errorf("ParseTokens = %s", got)
	}
	if got := api.ParseTokens(""); got != nil {
		t.Errorf("ParseTokens(\"\") = %v", got)
	}
}
