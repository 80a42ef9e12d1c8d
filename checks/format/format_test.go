package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/golden"
)

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		for _, f := range formats {
			name := fx.name + "." + f.ext
			t.Run(name, func(t *testing.T) {
				var b bytes.Buffer
				if err := f.render(&b, fx.report()); err != nil {
					t.Fatal(err)
				}
				golden.Check(t, name, b.Bytes())
			})
		}
	}
}

// TestDeterministic renders each fixture twice, and once more from a copy
// whose findings, results and suppressions come in reverse order: the bytes
// must not change, and the caller's report must not be touched.
func TestDeterministic(t *testing.T) {
	for _, fx := range fixtures {
		for _, f := range formats {
			t.Run(fx.name+"."+f.ext, func(t *testing.T) {
				r := fx.report()
				var first, second, shuffled bytes.Buffer
				if err := f.render(&first, r); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(r, fx.report()) {
					t.Fatal("the formatter changed its input report")
				}
				if err := f.render(&second, r); err != nil {
					t.Fatal(err)
				}
				if err := f.render(&shuffled, reversed(fx.report())); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first.Bytes(), second.Bytes()) {
					t.Error("two renderings of the same report differ")
				}
				if !bytes.Equal(first.Bytes(), shuffled.Bytes()) {
					t.Errorf("rendering depends on input order:\n%s\n---\n%s", first.String(), shuffled.String())
				}
			})
		}
	}
}

// reversed reverses every order the formatters must not depend on (not the
// verdicts: their order is the order checks are shown in).
func reversed(r *Report) *Report {
	slices.Reverse(r.Results)
	for i := range r.Verdicts {
		slices.Reverse(r.Verdicts[i].Findings)
		slices.Reverse(r.Verdicts[i].Suppressed)
	}
	for _, res := range r.Results {
		slices.Reverse(res.Findings)
		slices.Reverse(res.Suppressed)
	}
	return r
}

func TestExitCode(t *testing.T) {
	verdicts := func(cs ...checks.Conclusion) *Report {
		r := &Report{}
		for i, c := range cs {
			r.Verdicts = append(r.Verdicts, checks.Verdict{Check: string(rune('a' + i)), Conclusion: c})
		}
		return r
	}
	tests := []struct {
		name string
		r    *Report
		want int
	}{
		{"nil report", nil, 2},
		{"no checks", verdicts(), 0},
		{"all success", verdicts(checks.ConclusionSuccess, checks.ConclusionSuccess), 0},
		{"warnings only", verdicts(checks.ConclusionNeutral, checks.ConclusionSkipped), 0},
		{"one failure", verdicts(checks.ConclusionSuccess, checks.ConclusionFailure), 1},
		{"full fixture", fullReport(), 1},
		{"failed scan", degradedReport(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.r); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTextClosingLine(t *testing.T) {
	neutral := fullReport()
	for i := range neutral.Verdicts {
		v := &neutral.Verdicts[i]
		v.Conclusion = checks.ConclusionNeutral
		for j := range v.Findings {
			v.Findings[j].Blocking = false
		}
	}
	warnOnError := degradedReport()
	warnOnError.Verdicts[1].Conclusion = checks.ConclusionNeutral
	tests := []struct {
		name string
		r    *Report
		want string
	}{
		{"blocking", fullReport(), "gatehouse: 3 blocking findings — exit 1"},
		{"warnings only", neutral, "gatehouse: no blocking findings"},
		{"failed scan fails", degradedReport(), "gatehouse: no blocking findings; 1 check could not run (dependencies) — exit 1"},
		{"failed scan warns", warnOnError, "gatehouse: no blocking findings; 1 check could not run (dependencies) — exit 0"},
		{"nothing ran", emptyReport(), "gatehouse: no blocking findings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Text(&b, tt.r); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			if got := lines[len(lines)-1]; got != tt.want {
				t.Errorf("last line = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFormattersRejectInconsistentReports: a result without a verdict would
// need a policy decision the formatter cannot make.
func TestFormattersRejectInconsistentReports(t *testing.T) {
	orphan := fullReport()
	orphan.Verdicts = orphan.Verdicts[:2] // iac has a result but no verdict
	dup := fullReport()
	dup.Verdicts = append(dup.Verdicts, dup.Verdicts[0])
	unnamed := fullReport()
	unnamed.Verdicts[0].Check = ""
	tests := []struct {
		name    string
		r       *Report
		wantErr string
	}{
		{"nil", nil, "nil report"},
		{"result without verdict", orphan, `result of check "iac" has no verdict`},
		{"two verdicts", dup, `two verdicts for check "secrets"`},
		{"verdict without name", unnamed, "verdict 0 has no check name"},
	}
	for _, tt := range tests {
		for _, f := range formats {
			t.Run(tt.name+"/"+f.ext, func(t *testing.T) {
				var b bytes.Buffer
				err := f.render(&b, tt.r)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if b.Len() != 0 {
					t.Errorf("wrote %d bytes before failing", b.Len())
				}
			})
		}
	}
}

// TestFormattersPrintWhatTheyAreGiven: redaction is the scanner's job.
// Formatters show a secret only through Finding.Match, and neither add nor
// remove text: a raw secret a scanner wrongly left in Message comes out of
// JSON and SARIF exactly as given (once), and Text, which prints no
// messages, does not show it.
func TestFormattersPrintWhatTheyAreGiven(t *testing.T) {
	const raw = "AKIAIOSFODNN7EXAMPLE"
	const redacted = "AKIA************MPLE"
	r := fullReport()
	v := &r.Verdicts[0]
	v.Findings[0].Message = "key " + raw + " found"
	r.Results[1].Findings[0].Message = v.Findings[0].Message
	tests := []struct {
		ext     string
		wantRaw int
	}{
		{"txt", 0},
		{"json", 1},
		{"sarif", 1},
	}
	for _, tt := range tests {
		t.Run(tt.ext, func(t *testing.T) {
			var out string
			for _, f := range formats {
				if f.ext == tt.ext {
					var b bytes.Buffer
					if err := f.render(&b, r); err != nil {
						t.Fatal(err)
					}
					out = b.String()
				}
			}
			if got := strings.Count(out, raw); got != tt.wantRaw {
				t.Errorf("raw secret appears %d times, want %d", got, tt.wantRaw)
			}
			if !strings.Contains(out, redacted) {
				t.Errorf("the redacted match %q is missing", redacted)
			}
		})
	}
}

func TestTextCleansTerminalControls(t *testing.T) {
	r := fullReport()
	f := &r.Verdicts[2].Findings[1].Finding // the IaC finding on infra/storage.tf
	f.File = "infra/\x1b]0;pwned\x07evil\u202e.tf"
	f.Title = "title\nwith\tbreaks \u009b31m"
	r.Verdicts[2].Error = "bad \xff byte"
	var b bytes.Buffer
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u009b", "\xff", "title\n", "\t"} {
		if strings.Contains(out, bad) {
			t.Errorf("text output contains %q", bad)
		}
	}
	for _, want := range []string{`infra/\u001b]0;pwned\u0007evil\u202e.tf:14`, "title with breaks \\u009b31m", "bad \uFFFD byte"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}

// TestJSONDocument checks the JSON contract beyond the golden file: it
// decodes into JSONDocument, findings are sorted by file, line and rule,
// suppressions are merged without duplicates, slices are never null.
func TestJSONDocument(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r := fx.report()
			var b bytes.Buffer
			if err := JSON(&b, r); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b.Bytes(), []byte("null")) {
				t.Error("JSON output contains null")
			}
			var doc JSONDocument
			dec := json.NewDecoder(&b)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if doc.Version != JSONVersion || doc.ExitCode != ExitCode(r) || len(doc.Checks) != len(r.Verdicts) {
				t.Fatalf("version %d exit %d checks %d", doc.Version, doc.ExitCode, len(doc.Checks))
			}
			total := 0
			for i, c := range doc.Checks {
				v := r.Verdicts[i]
				if c.Check != v.Check || c.Blocking != v.Blocking() || len(c.Findings) != len(v.Findings) {
					t.Errorf("check %d: %s blocking %d findings %d", i, c.Check, c.Blocking, len(c.Findings))
				}
				total += c.Blocking
				if !slices.IsSortedFunc(c.Findings, func(a, b checks.Evaluated) int { return compareFindings(&a.Finding, &b.Finding) }) {
					t.Errorf("%s: findings not sorted", c.Check)
				}
				if (c.Engine == nil) != (findResult(r.Results, c.Check) == nil) {
					t.Errorf("%s: engine present = %v", c.Check, c.Engine != nil)
				}
			}
			if doc.Blocking != total {
				t.Errorf("blocking = %d, sum over checks %d", doc.Blocking, total)
			}
		})
	}
	doc, err := Document(fullReport())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(doc.Checks[0].Suppressed); got != 1 {
		t.Errorf("secrets: %d suppressed, want 1 (the same suppression is in result and verdict)", got)
	}
	if got := len(doc.Checks[2].Suppressed); got != 1 {
		t.Errorf("iac: %d suppressed, want the policy exception", got)
	}
}

// bigReport is fullReport with n more dependency findings, for benchmarks.
func bigReport(n int) *Report {
	r := fullReport()
	v := &r.Verdicts[1]
	for i := range n {
		f := v.Findings[1]
		f.RuleID = "CVE-2099-" + strconv.Itoa(10000+i%500)
		f.File = "services/svc" + strconv.Itoa(i%97) + "/package-lock.json"
		f.StartLine = i
		f.Fingerprint = checks.Fingerprint(checks.Dependencies, f.RuleID, f.File, strconv.Itoa(i))
		v.Findings = append(v.Findings, f)
	}
	return r
}

func BenchmarkFormats(b *testing.B) {
	r := bigReport(10000)
	for _, f := range formats {
		b.Run(f.ext, func(b *testing.B) {
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				if err := f.render(&out, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.Len()), "bytes/op-output")
		})
	}
}

// TestTextFitsATerminal: every line of every fixture's text report fits
// 100 columns (runes), except a .gitleaksignore line whose path alone is
// longer, which is printed whole; and each of those lines is printed whole,
// on a line of its own.
func TestTextFitsATerminal(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r := fx.report()
			var b bytes.Buffer
			if err := Text(&b, r); err != nil {
				t.Fatal(err)
			}
			ids := map[string]bool{}
			for _, v := range r.Verdicts {
				for _, f := range v.Findings {
					if f.Check == checks.Secrets {
						ids["    "+f.GitleaksID()] = true
					}
				}
			}
			lines := strings.Split(b.String(), "\n")
			for _, line := range lines {
				if n := utf8.RuneCountInString(line); n > lineWidth && !ids[line] {
					t.Errorf("%d columns: %s", n, line)
				}
			}
			for id := range ids {
				if !slices.Contains(lines, id) {
					t.Errorf(".gitleaksignore line %q is not printed whole on its own line", strings.TrimSpace(id))
				}
			}
		})
	}
}

// TestTextSummarisesInputs: a monorepo's hundred lockfiles make one inputs
// line that counts those it does not name.
func TestTextSummarisesInputs(t *testing.T) {
	var in []string
	for i := range 100 {
		in = append(in, fmt.Sprintf("services/service-%03d/package-lock.json", i))
	}
	line := inputsLine(in)
	if utf8.RuneCountInString(line) > lineWidth || !strings.HasPrefix(line, "  inputs: services/service-000/package-lock.json, ") {
		t.Errorf("inputs line = %q", line)
	}
	shown := strings.Count(line, "package-lock.json")
	if want := fmt.Sprintf(" and %d more", 100-shown); !strings.HasSuffix(line, want) {
		t.Errorf("inputs line %q does not end with %q", line, want)
	}
	if got := inputsLine([]string{strings.Repeat("deep/", 30) + "go.mod", "go.sum"}); utf8.RuneCountInString(got) > lineWidth ||
		!strings.HasSuffix(got, "/deep/go.mod and 1 more") {
		t.Errorf("inputs line = %q, want the tail of the first path and a count", got)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct{ text, indent, want string }{
		{"  fix: short", "       ", "  fix: short\n"},
		{"  fix: " + strings.Repeat("word ", 4), "       ", "  fix: word word\n       word word\n"},
		{"  " + strings.Repeat("x", 30), "    ", "  " + strings.Repeat("x", 18) + "\n    " + strings.Repeat("x", 12) + "\n"},
		// Little room left: the long word starts on the next line.
		{"  error: open /var/lib/gatehouse/db/x", "    ", "  error: open\n    /var/lib/\n    gatehouse/db/x\n"},
		// Enough room: it fills the line, broken after a slash.
		{"  error: at /var/lib/gatehouse/db/x", "    ", "  error: at /var/\n    lib/gatehouse/\n    db/x\n"},
		{"", "  ", "\n"},
	}
	for _, tt := range tests {
		if got := wrap(tt.text, tt.indent, 20); got != tt.want {
			t.Errorf("wrap(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestCutPath(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"infra/storage.tf:14", 30, "infra/storage.tf:14"},
		{"services/payments/infra/storage.tf:14", 24, "…/infra/storage.tf:14"},
		{"a-very-long-file-name.tf:3", 10, "…name.tf:3"},
	}
	for _, tt := range tests {
		if got := cutPath(tt.in, tt.n); got != tt.want || utf8.RuneCountInString(got) > tt.n {
			t.Errorf("cutPath(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// A suppression the change brought for its own finding that waits for an
// approval does not suppress: the finding stays listed, the suppression is
// under pending approval, never under suppressed.
func TestPendingSuppressionIsNotSuppressed(t *testing.T) {
	r := fullReport()
	v := &r.Verdicts[0]
	f := v.Findings[0].Finding
	sup := checks.Suppressed{Finding: f, Via: checks.ViaIgnoreFile, FromChange: true, Reason: ".gitleaksignore, as this change edits it, lists this finding"}
	for _, res := range r.Results {
		if res.Check == v.Check {
			res.Suppressed = append(res.Suppressed, sup)
		}
	}
	v.Pending = []checks.Suppressed{sup}
	doc, err := Document(r)
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Checks[0]
	for _, s := range c.Suppressed {
		if s.FromChange {
			t.Errorf("a pending suppression is listed as suppressing: %+v", s)
		}
	}
	if len(c.PendingApproval) != 1 {
		t.Errorf("pending_approval = %+v, want the one suppression", c.PendingApproval)
	}
	var b bytes.Buffer
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "suppression pending approval (1)") {
		t.Errorf("text does not say the suppression waits for approval:\n%s", b.String())
	}
}
