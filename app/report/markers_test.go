package report

import "testing"

func TestParseMarker(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want marker
	}{
		{"finding", FindingMarker("secrets", "ab12") + "\n### text", marker{kind: markFinding, fingerprint: "ab12", check: "secrets"}},
		{"finding without check", "<!-- gatehouse:finding:ab12 -->\ntext", marker{kind: markFinding, fingerprint: "ab12"}},
		{"fixed", FixedMarker("ab12") + "\n✅", marker{kind: markFixed, fingerprint: "ab12"}},
		{"summary", SummaryMarker + "\n## gatehouse", marker{kind: markSummary}},
		{"summary with CRLF", SummaryMarker + "\r\n## gatehouse", marker{kind: markSummary}},
		{"review", reviewMarker("iac") + "\nbody", marker{kind: markReview, check: "iac"}},
		{"not at the start", "quoted: " + SummaryMarker, marker{}},
		{"on a later line", "hello\n" + FixedMarker("ab12"), marker{}},
		{"unterminated", "<!-- gatehouse:finding:ab12", marker{}},
		{"bad fingerprint", "<!-- gatehouse:finding:ab 12 -->", marker{}},
		{"empty fingerprint", "<!-- gatehouse:fixed: -->", marker{}},
		{"summary with a value", "<!-- gatehouse:summary:x -->", marker{}},
		{"unknown kind", "<!-- gatehouse:other:ab12 -->", marker{}},
		{"plain comment", "LGTM", marker{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseMarker(tc.body); got != tc.want {
				t.Errorf("parseMarker(%q) = %+v, want %+v", tc.body, got, tc.want)
			}
		})
	}
}
