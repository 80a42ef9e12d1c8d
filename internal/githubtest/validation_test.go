package githubtest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// raw sends a request with an installation token and returns status and body.
func (f *fixture) raw(t *testing.T, method, path, contentType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.s.URL()+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "githubtest-test")
	req.Header.Set("Authorization", "Bearer "+f.s.IssueToken(installationID))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v) // an empty User-Agent is not sent at all
	}
	resp, err := f.s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestRequestsCheckedAgainstDescription(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		reason                   string
	}{
		{"unknown route", "GET", "/repos/acme/widgets/frobnicate", "", nil, 404, "no such route"},
		{"method the route lacks", "DELETE", "/repos/acme/widgets/check-runs/1", "", nil, 404, "method not allowed"},
		{"bad enum in body", "POST", "/repos/acme/widgets/check-runs", `{"name":"n","head_sha":"HEAD","status":"bogus"}`, nil, 422, "status"},
		{"wrong type in body", "POST", "/repos/acme/widgets/issues/1/comments", `{"body":42}`, nil, 422, "body"},
		{"missing required field", "POST", "/repos/acme/widgets/check-runs", `{"name":"n"}`, nil, 422, "head_sha"},
		{"malformed JSON", "POST", "/repos/acme/widgets/issues/1/comments", `{"body":`, nil, 400, "body"},
		{"non-numeric path id", "PATCH", "/repos/acme/widgets/check-runs/abc", `{"status":"queued"}`, nil, 404, "check_run_id"},
		{"per_page not a number", "GET", "/repos/acme/widgets/issues/1/comments?per_page=many", "", nil, 422, "per_page"},
		{"no User-Agent", "GET", "/repos/acme/widgets", "", map[string]string{"User-Agent": ""}, 403, "User-Agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			f := newFixture(rec)
			status, body := f.raw(t, tc.method, tc.path, "application/json", tc.body, tc.header)
			if status != tc.status {
				t.Errorf("status %d, want %d; body %s", status, tc.status, body)
			}
			fails := rec.failures()
			if len(fails) != 1 || !strings.Contains(fails[0], tc.method+" "+strings.Split(tc.path, "?")[0]) || !strings.Contains(fails[0], tc.reason) {
				t.Errorf("test failures = %q, want one naming %s %s and %q", fails, tc.method, tc.path, tc.reason)
			}
			reqs := f.s.Requests()
			if last := reqs[len(reqs)-1]; last.Violation == "" || last.Status != tc.status {
				t.Errorf("recorded request = %+v, want a violation with status %d", last, tc.status)
			}
		})
	}
}

func TestAllowRejectionsDoesNotFailTheTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	f := newFixture(rec, AllowRejections())
	status, _ := f.raw(t, "GET", "/repos/acme/widgets/frobnicate", "", "", nil)
	if status != http.StatusNotFound {
		t.Errorf("status %d, want 404", status)
	}
	if len(rec.failures()) != 0 {
		t.Errorf("failures %v with AllowRejections", rec.failures())
	}
}

func TestEnterprisePrefixAndNullBody(t *testing.T) {
	f := newFixture(t)
	status, body := f.raw(t, "GET", "/api/v3/repos/acme/widgets", "", "", nil)
	if status != http.StatusOK || !strings.Contains(body, `"full_name":"acme/widgets"`) {
		t.Errorf("GET /api/v3/repos/acme/widgets: %d %s", status, body)
	}
	if got := f.s.Requests(); got[len(got)-1].OperationID != "repos/get" {
		t.Errorf("operation = %q, want repos/get", got[len(got)-1].OperationID)
	}
}

func TestRequestsRecorded(t *testing.T) {
	f := newFixture(t)
	status, _ := f.raw(t, "POST", "/repos/acme/widgets/issues/1/comments", "application/json", `{"body":"hi"}`, nil)
	if status != http.StatusCreated {
		t.Fatalf("status %d", status)
	}
	reqs := f.s.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != "POST" || last.Path != "/repos/acme/widgets/issues/1/comments" || string(last.Body) != `{"body":"hi"}` ||
		last.Status != 201 || last.Auth != "token" || last.InstallationID != installationID || last.OperationID != "issues/create-comment" {
		t.Errorf("recorded %+v", last)
	}
}
