package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

const fileName = ".github/gatehouse.yml"

// parseErrorCases are broken policy files and the exact error each gives.
// schema says whether schema.json rejects the file too (it cannot see
// what YAML alone cannot express: syntax, duplicates, impossible dates).
var parseErrorCases = []struct {
	name   string
	yaml   string
	want   string
	schema bool
}{
	{"unknown key in check", "version: 1\nchecks:\n  iac:\n    mode: block\n    min_sevrity: high\n",
		`.github/gatehouse.yml:5:5: unknown key "min_sevrity" in checks.iac (did you mean "min_severity"?)`, true},
	{"unknown top-level key", "version: 1\nchekcs: {}\n",
		`.github/gatehouse.yml:2:1: unknown key "chekcs" (did you mean "checks"?)`, true},
	{"unknown key far from any", "version: 1\nreport:\n  colour: red\n",
		`.github/gatehouse.yml:3:3: unknown key "colour" in report (known: review_comments, review_event, summary_comment, sarif_upload)`, true},
	{"unknown check", "version: 1\nchecks:\n  secret: {mode: off}\n",
		`.github/gatehouse.yml:3:3: unknown key "secret" in checks (did you mean "secrets"?)`, true},
	{"secrets min_severity", "version: 1\nchecks:\n  secrets:\n    min_severity: high\n",
		`.github/gatehouse.yml:4:5: checks.secrets has no min_severity: every secret blocks`, true},
	{"only_fixed outside dependencies", "version: 1\nchecks:\n  iac: {only_fixed: true}\n",
		`.github/gatehouse.yml:3:9: checks.iac has no only_fixed: it applies to dependencies only`, true},
	{"unknown rule set", "version: 1\nchecks:\n  secrets:\n    extra_rules: [credential-file]\n",
		`.github/gatehouse.yml:4:19: checks.secrets.extra_rules[0]: unknown rule set "credential-file" (did you mean "credential-files"?)`, true},
	{"rule set is a string", "version: 1\nchecks:\n  secrets: {extra_rules: credential-files}\n",
		`.github/gatehouse.yml:3:26: checks.secrets.extra_rules must be a list of rule sets (credential-files), not "credential-files"`, true},
	{"rule set twice", "version: 1\nchecks:\n  secrets: {extra_rules: [credential-files, credential-files]}\n",
		`.github/gatehouse.yml:3:45: checks.secrets.extra_rules[1]: rule set "credential-files" is listed twice`, true},
	{"extra_rules outside secrets", "version: 1\nchecks:\n  iac: {extra_rules: [credential-files]}\n",
		`.github/gatehouse.yml:3:9: checks.iac has no extra_rules: it applies to secrets only`, true},
	{"invalid mode", "version: 1\nchecks:\n  dependencies:\n    mode: blok\n",
		`.github/gatehouse.yml:4:11: checks.dependencies.mode must be block, warn or off, not "blok"`, true},
	{"mode is a list", "version: 1\nchecks:\n  iac:\n    mode: [block]\n",
		`.github/gatehouse.yml:4:11: checks.iac.mode must be block, warn or off, not a list`, true},
	{"mode is empty", "version: 1\nchecks:\n  iac:\n    mode:\n",
		`.github/gatehouse.yml:4:10: checks.iac.mode must be block, warn or off, not empty`, true},
	{"invalid severity", "version: 1\nchecks:\n  iac:\n    min_severity: HIGH\n",
		`.github/gatehouse.yml:4:19: checks.iac.min_severity must be critical, high, medium, low or info, not "HIGH"`, true},
	{"severity is a number", "version: 1\nchecks:\n  custom: {min_severity: 7}\n",
		`.github/gatehouse.yml:3:26: checks.custom.min_severity must be critical, high, medium, low or info, not the number 7`, true},
	{"bool is yes", "version: 1\nnew_findings_only: yes\n",
		`.github/gatehouse.yml:2:20: new_findings_only must be true or false, not "yes"`, true},
	{"only_fixed quoted", "version: 1\nchecks:\n  dependencies:\n    only_fixed: \"true\"\n",
		`.github/gatehouse.yml:4:17: checks.dependencies.only_fixed must be true or false, not "true"`, true},
	{"invalid on_error", "version: 1\non_error: ignore\n",
		`.github/gatehouse.yml:2:11: on_error must be fail or neutral, not "ignore"`, true},
	{"invalid review_event", "version: 1\nreport:\n  review_event: APPROVE\n",
		`.github/gatehouse.yml:3:17: report.review_event must be REQUEST_CHANGES or COMMENT, not "APPROVE"`, true},
	{"report is a list", "version: 1\nreport: [review_comments]\n",
		`.github/gatehouse.yml:2:9: report must be a mapping, not a list`, true},
	{"missing reason", "version: 1\nexceptions:\n  - id: CVE-2023-1234\n    owner: \"@team-sec\"\n",
		`.github/gatehouse.yml:3:5: exceptions[0] (CVE-2023-1234) needs a reason`, true},
	{"blank reason", "version: 1\nexceptions:\n  - id: CVE-2023-1234\n    reason: \"  \"\n",
		`.github/gatehouse.yml:4:13: exceptions[0].reason is empty`, true},
	{"missing id", "version: 1\nexceptions:\n  - id: CVE-1\n    reason: a\n  - reason: because\n",
		`.github/gatehouse.yml:5:5: exceptions[1] needs an id (a rule id, CVE or GHSA id, AVD id or finding fingerprint)`, true},
	{"exception unknown key", "version: 1\nexceptions:\n  - id: CVE-1\n    reason: a\n    expiry: 2026-01-01\n",
		`.github/gatehouse.yml:5:5: unknown key "expiry" in exceptions[0] (did you mean "expires"?)`, true},
	{"exception is a string", "version: 1\nexceptions:\n  - CVE-2023-1234\n",
		`.github/gatehouse.yml:3:5: exceptions[0] must be a mapping, not "CVE-2023-1234"`, true},
	{"exceptions is a mapping", "version: 1\nexceptions:\n  id: CVE-1\n",
		`.github/gatehouse.yml:3:3: exceptions must be a list, not a mapping`, true},
	{"invalid month", "version: 1\nexceptions:\n  - id: CVE-1\n    reason: a\n    expires: 2026-13-01\n",
		`.github/gatehouse.yml:5:14: exceptions[0].expires must be a date like 2026-12-31, not "2026-13-01"`, false},
	{"impossible day", "version: 1\nexceptions:\n  - id: CVE-1\n    reason: a\n    expires: 2026-02-30\n",
		`.github/gatehouse.yml:5:14: exceptions[0].expires must be a date like 2026-12-31, not "2026-02-30"`, false},
	{"date with time", "version: 1\nexceptions:\n  - id: CVE-1\n    reason: a\n    expires: 2026-02-01T10:00:00Z\n",
		`.github/gatehouse.yml:5:14: exceptions[0].expires must be a date like 2026-12-31, not "2026-02-01T10:00:00Z"`, true},
	{"date in other order", "version: 1\nexceptions:\n  - id: CVE-1\n    reason: a\n    expires: 31/12/2026\n",
		`.github/gatehouse.yml:5:14: exceptions[0].expires must be a date like 2026-12-31, not "31/12/2026"`, true},
	{"wrong version", "version: 2\n",
		`.github/gatehouse.yml:1:10: unsupported version 2 (this gatehouse reads version 1)`, true},
	{"wrong version reported before other problems", "checks: {iac: {level: 3}}\nversion: 2\n",
		`.github/gatehouse.yml:2:10: unsupported version 2 (this gatehouse reads version 1)`, true},
	{"version as text", "version: \"1\"\n",
		`.github/gatehouse.yml:1:10: version must be the number 1, not "1"`, true},
	{"missing version", "checks:\n  iac: {mode: warn, level: 3}\n",
		`.github/gatehouse.yml:1:1: missing version (add "version: 1" at the top)`, true},
	{"empty file", "",
		`.github/gatehouse.yml:1: empty policy file (want at least "version: 1")`, false},
	{"only comments", "# nothing here\n",
		`.github/gatehouse.yml:1: empty policy file (want at least "version: 1")`, false},
	{"top level is a list", "- version: 1\n",
		`.github/gatehouse.yml:1:1: a policy file must be a mapping of settings, not a list`, true},
	{"yaml syntax", "version: 1\nchecks:\n  iac:\n    mode: block\n   min_severity: high\n",
		`.github/gatehouse.yml:5: invalid YAML: did not find expected key`, false},
	{"yaml syntax first line", "version: 1: 2\n",
		`.github/gatehouse.yml:1: invalid YAML: mapping values are not allowed in this context`, false},
	{"yaml syntax after a multi-line list", "version: 1\nchecks: {iac: {paths: {ignore: [a,\n  b]}}}\nreport: review_event: COMMENT\n",
		`.github/gatehouse.yml:4: invalid YAML: mapping values are not allowed in this context`, false},
	{"yaml unclosed list", "version: 1\nenforce: [exceptions,\n",
		`.github/gatehouse.yml:2: invalid YAML: did not find expected node content`, false},
	{"yaml tab indent", "version: 1\nchecks:\n\tiac: {}\n",
		`.github/gatehouse.yml:3: invalid YAML: found character that cannot start any token`, false},
	{"duplicate key", "version: 1\nchecks:\n  iac:\n    mode: block\n    mode: off\n",
		`.github/gatehouse.yml:5:5: duplicate key "mode" in checks.iac (first on line 4)`, false},
	{"invalid glob", "version: 1\nchecks:\n  secrets:\n    paths:\n      ignore: [\"ok/**\", \"[a\"]\n",
		`.github/gatehouse.yml:5:25: checks.secrets.paths.ignore[1] is not a valid path glob: "[a"`, false},
	{"ignore is a string", "version: 1\nchecks:\n  secrets:\n    paths: {ignore: vendor/**}\n",
		`.github/gatehouse.yml:4:21: checks.secrets.paths.ignore must be a list of path globs, not "vendor/**"`, true},
	{"unknown paths key", "version: 1\nchecks:\n  iac:\n    paths: {include: [a]}\n",
		`.github/gatehouse.yml:4:13: unknown key "include" in checks.iac.paths (known: ignore)`, true},
	{"unknown enforce entry", "version: 1\nenforce: [checks.secret.mode]\n",
		`.github/gatehouse.yml:2:11: unknown setting "checks.secret.mode" in enforce (did you mean "checks.secrets.mode"?)`, true},
	{"enforce is a string", "version: 1\nenforce: exceptions\n",
		`.github/gatehouse.yml:2:10: enforce must be a list of settings, not "exceptions"`, true},
	{"two documents", "version: 1\n---\nversion: 1\n",
		`.github/gatehouse.yml:2: more than one YAML document (want one)`, false},
	{"environments is a list", "version: 1\nenvironments: [production]\n",
		`.github/gatehouse.yml:2:15: environments must be a mapping of environment names, not a list`, true},
	{"unknown key in an environment", "version: 1\nenvironments:\n  production:\n    new_findings_onyl: false\n",
		`.github/gatehouse.yml:4:5: unknown key "new_findings_onyl" in environments.production (did you mean "new_findings_only"?)`, true},
	{"enforce in an environment", "version: 1\nenvironments:\n  production:\n    enforce: [checks]\n",
		`.github/gatehouse.yml:4:5: environments.production cannot enforce: only the org file's top level can`, true},
	{"bad value in an environment", "version: 1\nenvironments:\n  staging:\n    checks: {iac: {mode: blok}}\n",
		`.github/gatehouse.yml:4:26: checks.iac.mode must be block, warn or off, not "blok"`, true},
	{"environments differing in case", "version: 1\nenvironments:\n  production: {}\n  Production: {}\n",
		`.github/gatehouse.yml:4:3: duplicate environment "Production" (first on line 3; environment names ignore case)`, false},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(fileName, []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", f)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, want *ParseError: %v", err, err)
			}
			if pe.File != fileName || pe.Line == 0 {
				t.Errorf("ParseError{File: %q, Line: %d}: want the file name and a line", pe.File, pe.Line)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte("version: 1\n" + strings.Repeat("# padding\n", MaxFileSize/10+1))
	_, err := Parse(fileName, data)
	want := ".github/gatehouse.yml: policy file is larger than 65536 bytes"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestParseValidFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/valid/*.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no valid testdata: %v", err)
	}
	for _, path := range paths {
		if _, err := Load(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestParseValues(t *testing.T) {
	f, err := Load("testdata/valid/repo.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"checks.dependencies.only_fixed":   false,
		"checks.dependencies.paths.ignore": []string{"examples/**", "docs/*.lock"},
		"checks.iac.mode":                  ModeBlock,
		"checks.iac.min_severity":          checks.SeverityMedium,
		"checks.custom.mode":               ModeOff,
		"new_findings_only":                false,
		"report.review_event":              ReviewComment,
		"report.sarif_upload":              true,
	}
	if len(f.set) != len(want) {
		t.Errorf("file sets %d settings, want %d: %v", len(f.set), len(want), f.set)
	}
	for k, v := range want {
		got, ok := f.set[k]
		if !ok || !equal(got.val, v) {
			t.Errorf("%s = %v (set %v), want %v", k, got.val, ok, v)
		}
	}
	if got := f.set["checks.iac.min_severity"].line; got != 12 {
		t.Errorf("checks.iac.min_severity on line %d, want 12", got)
	}
	if len(f.exceptions) != 2 {
		t.Fatalf("got %d exceptions, want 2", len(f.exceptions))
	}
	e := f.exceptions[1]
	if e.ID != "3f2a9c0d1e4b5a6f7081928374655647" || e.Reason != "accepted risk, see SEC-42" || e.Line != 23 ||
		!e.Expires.Equal(time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("exception = %+v", e)
	}
	if got := f.exceptions[0].Paths; len(got) != 1 || got[0] != "test/fixtures/**" {
		t.Errorf("exception paths = %q", got)
	}
}

func TestParseOffUnquoted(t *testing.T) {
	// YAML 1.1 read "off" as false; policy files mean the mode.
	f, err := Parse(fileName, []byte("version: 1\nchecks: {iac: {mode: off}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.set["checks.iac.mode"].val; got != ModeOff {
		t.Errorf("mode = %v, want off", got)
	}
}

func TestParseCleansGlobs(t *testing.T) {
	f, err := Parse(fileName, []byte("version: 1\nchecks: {iac: {paths: {ignore: [/vendor/**, ./gen/*.tf]}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.set["checks.iac.paths.ignore"].val.([]string); !equal(got, []string{"vendor/**", "gen/*.tf"}) {
		t.Errorf("globs = %q", got)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}
