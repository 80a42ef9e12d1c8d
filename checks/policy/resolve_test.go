package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const (
	orgName  = "acme/.github:.github/gatehouse.yml"
	repoName = "acme/app:.github/gatehouse.yml"
)

func mustParse(t *testing.T, name, yaml string) *File {
	t.Helper()
	f, err := Parse(name, []byte(yaml))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return f
}

func mustResolve(t *testing.T, layers ...Layer) *Policy {
	t.Helper()
	p, err := Resolve(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// explained returns the effective setting for key.
func explained(t *testing.T, p *Policy, key string) Setting {
	t.Helper()
	for _, s := range p.Explain() {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting %s in Explain", key)
	return Setting{}
}

func TestResolveDefaults(t *testing.T) {
	p := Default()
	got := map[string]string{}
	for _, s := range p.Explain() {
		if s.Source != SourceDefault || s.File != "built-in" || s.Line != 0 || s.Enforced {
			t.Errorf("%s: %+v, want a built-in default", s.Key, s)
		}
		got[s.Key] = s.Value
	}
	want := map[string]string{
		"checks.secrets.mode": "block", "checks.secrets.extra_rules": "[]", "checks.secrets.paths.ignore": "[]",
		"checks.dependencies.mode": "block", "checks.dependencies.min_severity": "high",
		"checks.dependencies.only_fixed": "false", "checks.dependencies.paths.ignore": "[]",
		"checks.iac.mode": "block", "checks.iac.min_severity": "high", "checks.iac.paths.ignore": "[]",
		"checks.custom.mode": "block", "checks.custom.min_severity": "high", "checks.custom.paths.ignore": "[]",
		"new_findings_only": "true", "on_error": "fail", "on_limit": "fail",
		"report.review_comments": "true", "report.review_event": "REQUEST_CHANGES",
		"report.summary_comment": "true", "report.sarif_upload": "false",
		"suppressions.from_change": "approval", "suppressions.approvers": "[]",
	}
	if len(got) != len(want) {
		t.Errorf("Explain lists %d settings, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := p.Check("secrets"); !ok {
		t.Error("no secrets check")
	}
	if _, ok := p.Check("nope"); ok {
		t.Error("unknown check resolved")
	}
	if r := p.Report(); !r.ReviewComments || r.ReviewEvent != ReviewRequestChanges || !r.SummaryComment || r.SarifUpload {
		t.Errorf("Report() = %+v", r)
	}
	if !p.NewFindingsOnly() || p.OnError() != OnErrorFail {
		t.Error("wrong top-level defaults")
	}
}

func TestResolveLayers(t *testing.T) {
	server := mustParse(t, "server.yml", "version: 1\nchecks:\n  iac: {min_severity: critical, mode: warn}\non_error: neutral\n")
	org := mustParse(t, orgName, "version: 1\nchecks:\n  iac:\n    min_severity: medium\nexceptions:\n  - {id: CVE-1, reason: org}\n")
	repo := mustParse(t, repoName, "version: 1\nchecks:\n  iac:\n    paths: {ignore: [gen/**]}\nexceptions:\n  - {id: CVE-2, reason: repo}\n")
	p := mustResolve(t, Layer{SourceServer, server}, Layer{SourceOrg, org}, Layer{SourceRepo, repo})

	for _, tc := range []struct {
		key, value string
		source     Source
		file       string
		line       int
	}{
		{"checks.iac.mode", "warn", SourceServer, "server.yml", 3},
		{"checks.iac.min_severity", "medium", SourceOrg, orgName, 4},
		{"checks.iac.paths.ignore", `["gen/**"]`, SourceRepo, repoName, 4},
		{"on_error", "neutral", SourceServer, "server.yml", 4},
		{"checks.secrets.mode", "block", SourceDefault, "built-in", 0},
		{"exceptions[0]", `CVE-1 reason="org"`, SourceOrg, orgName, 6},
		{"exceptions[1]", `CVE-2 reason="repo"`, SourceRepo, repoName, 6},
	} {
		s := explained(t, p, tc.key)
		if s.Value != tc.value || s.Source != tc.source || s.File != tc.file || s.Line != tc.line {
			t.Errorf("%s = %+v, want %s from %s %s:%d", tc.key, s, tc.value, tc.source, tc.file, tc.line)
		}
	}
	if len(p.Notes()) != 0 {
		t.Errorf("notes without enforce: %q", p.Notes())
	}
	src := p.Sources()
	if len(src) != 4 || src[0].Source != SourceDefault || src[3].Name != repoName || src[3].Digest != repo.Digest() || len(src[3].Digest) != 64 {
		t.Errorf("Sources() = %+v", src)
	}
}

func TestResolveOrder(t *testing.T) {
	f := mustParse(t, "x.yml", "version: 1\n")
	for _, layers := range [][]Layer{
		{{SourceOrg, f}, {SourceServer, f}},
		{{SourceRepo, f}, {SourceRepo, f}},
		{{SourceDefault, f}},
		{{Source(9), f}},
	} {
		if _, err := Resolve(layers...); err == nil {
			t.Errorf("Resolve(%v) accepted layers out of order", layers)
		}
	}
	// A layer without a file is skipped, but still counts for the order.
	p := mustResolve(t, Layer{SourceServer, nil}, Layer{SourceOrg, f}, Layer{SourceRepo, nil})
	if len(p.Sources()) != 2 {
		t.Errorf("Sources() = %+v, want defaults and org", p.Sources())
	}
}

// TestEnforce covers every enforceable setting: what the org enforces, what
// the repo tries, and whether it is held back.
func TestEnforce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		org     string // YAML body after "version: 1"
		enforce string
		repo    string
		key     string
		want    string // effective value
		held    bool
	}{
		{"mode block→off held", "", "checks.secrets.mode", "checks: {secrets: {mode: off}}", "checks.secrets.mode", "block", true},
		{"mode block→warn held", "", "checks.dependencies.mode", "checks: {dependencies: {mode: warn}}", "checks.dependencies.mode", "block", true},
		{"mode warn→block tightens", "checks: {iac: {mode: warn}}", "checks.iac.mode", "checks: {iac: {mode: block}}", "checks.iac.mode", "block", false},
		{"mode warn→off held", "checks: {custom: {mode: warn}}", "checks.custom.mode", "checks: {custom: {mode: off}}", "checks.custom.mode", "warn", true},
		{"mode same value", "", "checks.iac.mode", "checks: {iac: {mode: block}}", "checks.iac.mode", "block", false},
		{"severity higher held", "", "checks.iac.min_severity", "checks: {iac: {min_severity: critical}}", "checks.iac.min_severity", "high", true},
		{"severity lower tightens", "", "checks.dependencies.min_severity", "checks: {dependencies: {min_severity: low}}", "checks.dependencies.min_severity", "low", false},
		{"custom severity higher held", "checks: {custom: {min_severity: medium}}", "checks.custom.min_severity", "checks: {custom: {min_severity: high}}", "checks.custom.min_severity", "medium", true},
		{"only_fixed false→true held", "", "checks.dependencies.only_fixed", "checks: {dependencies: {only_fixed: true}}", "checks.dependencies.only_fixed", "false", true},
		{"only_fixed true→false tightens", "checks: {dependencies: {only_fixed: true}}", "checks.dependencies.only_fixed", "checks: {dependencies: {only_fixed: false}}", "checks.dependencies.only_fixed", "false", false},
		{"new_findings_only false→true held", "new_findings_only: false", "new_findings_only", "new_findings_only: true", "new_findings_only", "false", true},
		{"new_findings_only true→false tightens", "", "new_findings_only", "new_findings_only: false", "new_findings_only", "false", false},
		{"on_error fail→neutral held", "", "on_error", "on_error: neutral", "on_error", "fail", true},
		{"on_error neutral→fail tightens", "on_error: neutral", "on_error", "on_error: fail", "on_error", "fail", false},
		{"ignore more held", "checks: {secrets: {paths: {ignore: [vendor/**]}}}", "checks.secrets.paths.ignore",
			"checks: {secrets: {paths: {ignore: [vendor/**, src/**]}}}", "checks.secrets.paths.ignore", `["vendor/**"]`, true},
		{"ignore fewer tightens", "checks: {iac: {paths: {ignore: [a/**, b/**]}}}", "checks.iac.paths.ignore",
			"checks: {iac: {paths: {ignore: [b/**]}}}", "checks.iac.paths.ignore", `["b/**"]`, false},
		{"ignore none tightens", "checks: {dependencies: {paths: {ignore: [a/**]}}}", "checks.dependencies.paths.ignore",
			"checks: {dependencies: {paths: {ignore: []}}}", "checks.dependencies.paths.ignore", `[]`, false},
		{"custom ignore more held", "", "checks.custom.paths.ignore", "checks: {custom: {paths: {ignore: [x]}}}", "checks.custom.paths.ignore", `[]`, true},
		{"extra_rules removed held", "checks: {secrets: {extra_rules: [credential-files]}}", "checks.secrets.extra_rules",
			"checks: {secrets: {extra_rules: []}}", "checks.secrets.extra_rules", `["credential-files"]`, true},
		{"extra_rules added tightens", "", "checks.secrets.extra_rules",
			"checks: {secrets: {extra_rules: [credential-files]}}", "checks.secrets.extra_rules", `["credential-files"]`, false},
		{"extra_rules kept", "checks: {secrets: {extra_rules: [credential-files]}}", "checks.secrets.extra_rules",
			"checks: {secrets: {extra_rules: [credential-files]}}", "checks.secrets.extra_rules", `["credential-files"]`, false},
		{"secrets prefix enforces extra_rules", "checks: {secrets: {extra_rules: [credential-files]}}", "checks.secrets",
			"checks: {secrets: {extra_rules: []}}", "checks.secrets.extra_rules", `["credential-files"]`, true},
		{"review_event locked", "", "report.review_event", "report: {review_event: COMMENT}", "report.review_event", "REQUEST_CHANGES", true},
		{"review_comments locked", "", "report.review_comments", "report: {review_comments: false}", "report.review_comments", "true", true},
		{"summary_comment locked", "", "report.summary_comment", "report: {summary_comment: false}", "report.summary_comment", "true", true},
		{"sarif_upload locked", "", "report.sarif_upload", "report: {sarif_upload: true}", "report.sarif_upload", "false", true},
		{"prefix enforces the check", "", "checks.iac", "checks: {iac: {min_severity: critical}}", "checks.iac.min_severity", "high", true},
		{"prefix enforces paths", "", "checks.secrets.paths", "checks: {secrets: {paths: {ignore: [x]}}}", "checks.secrets.paths.ignore", `[]`, true},
		{"checks enforces all checks", "", "checks", "checks: {custom: {mode: warn}}", "checks.custom.mode", "block", true},
		{"report enforces all switches", "", "report", "report: {sarif_upload: true}", "report.sarif_upload", "false", true},
		{"not enforced: repo weakens", "", "checks.iac.mode", "checks: {secrets: {mode: off}}", "checks.secrets.mode", "off", false},
		{"enforced setting the org left at default", "checks: {iac: {mode: warn}}", "checks.dependencies.mode",
			"checks: {dependencies: {mode: off}}", "checks.dependencies.mode", "block", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := mustParse(t, orgName, fmt.Sprintf("version: 1\n%s\nenforce: [%s]\n", tc.org, tc.enforce))
			repo := mustParse(t, repoName, "version: 1\n"+tc.repo+"\n")
			p := mustResolve(t, Layer{SourceOrg, org}, Layer{SourceRepo, repo})
			s := explained(t, p, tc.key)
			if s.Value != tc.want {
				t.Errorf("%s = %s, want %s", tc.key, s.Value, tc.want)
			}
			if !s.Enforced && tc.name != "not enforced: repo weakens" {
				t.Errorf("%s not marked enforced", tc.key)
			}
			wantSource := SourceRepo
			if tc.held {
				wantSource = SourceDefault
				if _, ok := org.set[tc.key]; ok {
					wantSource = SourceOrg
				}
			}
			if s.Source != wantSource {
				t.Errorf("%s comes from %s, want %s", tc.key, s.Source, wantSource)
			}
			notes := p.Notes()
			if tc.held != (len(notes) == 1) {
				t.Fatalf("held=%v but notes %q", tc.held, notes)
			}
			if tc.held {
				wantNote := fmt.Sprintf("tried to set %s to ", tc.key)
				if !strings.Contains(notes[0], wantNote) || !strings.Contains(notes[0], "held at "+tc.want+" by org enforce ("+orgName+")") {
					t.Errorf("note %q does not say what was held", notes[0])
				}
			}
		})
	}
}

func TestEnforceNoteText(t *testing.T) {
	org := mustParse(t, orgName, "version: 1\nenforce: [checks.secrets.mode]\n")
	repo := mustParse(t, repoName, "version: 1\nchecks:\n  secrets:\n    mode: off\n")
	p := mustResolve(t, Layer{SourceOrg, org}, Layer{SourceRepo, repo})
	want := []string{"repo acme/app:.github/gatehouse.yml:4 tried to set checks.secrets.mode to off; held at block by org enforce (acme/.github:.github/gatehouse.yml)"}
	if !slices.Equal(p.Notes(), want) {
		t.Errorf("Notes() = %q\nwant %q", p.Notes(), want)
	}
	if cp, _ := p.Check("secrets"); cp.Mode != ModeBlock {
		t.Errorf("secrets mode = %s, want block", cp.Mode)
	}
	if got := explained(t, p, "enforce"); got.Value != `["checks.secrets.mode"]` || got.Source != SourceOrg || got.Line != 2 {
		t.Errorf("enforce setting = %+v", got)
	}
}

func TestEnforceExceptions(t *testing.T) {
	repo := mustParse(t, repoName, "version: 1\nexceptions:\n  - id: CVE-2\n    reason: repo\n")
	for _, tc := range []struct {
		enforce string
		want    []string
		notes   []string
	}{
		{"[exceptions]", []string{"CVE-1"},
			[]string{"repo acme/app:.github/gatehouse.yml:3: exception CVE-2 ignored: exceptions are enforced by the org (acme/.github:.github/gatehouse.yml)"}},
		{"[checks.iac.mode]", []string{"CVE-1", "CVE-2"}, nil},
	} {
		org := mustParse(t, orgName, "version: 1\nexceptions: [{id: CVE-1, reason: org}]\nenforce: "+tc.enforce+"\n")
		p := mustResolve(t, Layer{SourceOrg, org}, Layer{SourceRepo, repo})
		var ids []string
		for _, e := range p.Exceptions() {
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("enforce %s: exceptions %q, want %q", tc.enforce, ids, tc.want)
		}
		if !slices.Equal(p.Notes(), tc.notes) {
			t.Errorf("enforce %s: notes %q, want %q", tc.enforce, p.Notes(), tc.notes)
		}
	}
}

func TestEnforceOnlyFromOrg(t *testing.T) {
	server := mustParse(t, "server.yml", "version: 1\nenforce: [checks]\n")
	repo := mustParse(t, repoName, "version: 1\nchecks: {secrets: {mode: warn}}\nenforce: [on_error]\n")
	p := mustResolve(t, Layer{SourceServer, server}, Layer{SourceRepo, repo})
	want := []string{
		"server server.yml:2: enforce is ignored here; only the org file can enforce settings",
		"repo acme/app:.github/gatehouse.yml:3: enforce is ignored here; only the org file can enforce settings",
	}
	if !slices.Equal(p.Notes(), want) {
		t.Errorf("Notes() = %q\nwant %q", p.Notes(), want)
	}
	if cp, _ := p.Check("secrets"); cp.Mode != ModeWarn {
		t.Errorf("server enforce applied: secrets mode %s", cp.Mode)
	}
}

func TestHash(t *testing.T) {
	base := Default()
	same := mustResolve(t, Layer{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {iac: {mode: block}}\n")})
	other := mustResolve(t, Layer{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {iac: {mode: warn}}\n")})
	withExc := mustResolve(t, Layer{SourceRepo, mustParse(t, repoName, "version: 1\nexceptions: [{id: X, reason: y}]\n")})
	enforced := mustResolve(t, Layer{SourceOrg, mustParse(t, orgName, "version: 1\nenforce: [checks.iac.mode]\n")})
	if base.Hash() != same.Hash() {
		t.Error("setting a default explicitly changed the hash")
	}
	seen := map[string]bool{}
	for _, p := range []*Policy{base, other, withExc, enforced} {
		h := p.Hash()
		if len(h) != 64 || p.ShortHash() != h[:12] {
			t.Errorf("Hash() = %q, ShortHash() = %q", h, p.ShortHash())
		}
		if seen[h] {
			t.Errorf("two different policies share hash %s", h)
		}
		seen[h] = true
	}
	if !strings.Contains(string(base.Canonical()), `{"key":"checks.iac.min_severity","value":"high"}`) {
		t.Errorf("Canonical() = %s", base.Canonical())
	}
}

func TestExplainFullFile(t *testing.T) {
	f, err := Load("testdata/valid/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	p := mustResolve(t, Layer{SourceOrg, f})
	exc := explained(t, p, "exceptions[0]")
	want := `CVE-2023-1234 paths=["legacy/**"] owner=@team-sec expires=2026-12-31 reason="not reachable"`
	if exc.Value != want || !exc.Enforced || exc.Line != 16 {
		t.Errorf("exception setting %+v, want value %s, enforced, line 16", exc, want)
	}
	if s := explained(t, p, "checks.secrets.paths.ignore"); s.Value != `["vendor/**"]` || s.Line != 4 || s.Enforced {
		t.Errorf("secrets ignore %+v, want [\"vendor/**\"] on line 4, not enforced", s)
	}
	if s := explained(t, p, "checks.secrets.mode"); !s.Enforced {
		t.Errorf("secrets mode %+v, want enforced", s)
	}
	b, err := json.Marshal(explained(t, p, "on_error"))
	if err != nil || string(b) != `{"key":"on_error","value":"fail","source":"org","file":"testdata/valid/full.yml","line":9}` {
		t.Errorf("JSON %s %v", b, err)
	}
}

func TestParseAliases(t *testing.T) {
	f := mustParse(t, repoName, "version: 1\nchecks:\n  iac: {paths: {ignore: &g [gen/**]}}\n  custom: {paths: {ignore: *g}}\n")
	p := mustResolve(t, Layer{SourceRepo, f})
	if cp, _ := p.Check(Custom); !slices.Equal(cp.IgnorePaths, []string{"gen/**"}) {
		t.Errorf("alias not followed: %q", cp.IgnorePaths)
	}
}

// TestExtraRules: the secrets check's extra rule sets are off by default,
// set by any layer, and what a higher layer writes replaces a lower one's.
func TestExtraRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers []Layer
		want   []string
	}{
		{"default off", nil, nil},
		{"repo turns on", []Layer{{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {secrets: {extra_rules: [credential-files]}}\n")}}, []string{"credential-files"}},
		{"server turns on", []Layer{{SourceServer, mustParse(t, "server.yml", "version: 1\nchecks: {secrets: {extra_rules: [credential-files]}}\n")}}, []string{"credential-files"}},
		{"repo turns off what the org set", []Layer{
			{SourceOrg, mustParse(t, orgName, "version: 1\nchecks: {secrets: {extra_rules: [credential-files]}}\n")},
			{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {secrets: {extra_rules: []}}\n")},
		}, nil},
		{"org enforce keeps them on", []Layer{
			{SourceOrg, mustParse(t, orgName, "version: 1\nchecks: {secrets: {extra_rules: [credential-files]}}\nenforce: [checks.secrets.extra_rules]\n")},
			{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {secrets: {extra_rules: []}}\n")},
		}, []string{"credential-files"}},
		{"other settings leave them", []Layer{{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {secrets: {mode: warn}}\n")}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustResolve(t, tc.layers...)
			cp, _ := p.Check("secrets")
			if !slices.Equal(cp.ExtraRules, tc.want) {
				t.Errorf("ExtraRules = %q, want %q", cp.ExtraRules, tc.want)
			}
			for _, c := range []string{"dependencies", "iac", Custom} {
				if cp, _ := p.Check(c); cp.ExtraRules != nil {
					t.Errorf("%s has extra rules %q", c, cp.ExtraRules)
				}
			}
		})
	}
	on := mustResolve(t, Layer{SourceRepo, mustParse(t, repoName, "version: 1\nchecks: {secrets: {extra_rules: [credential-files]}}\n")})
	if on.Hash() == Default().Hash() {
		t.Error("turning the credential-files rules on left the policy hash unchanged")
	}
}
