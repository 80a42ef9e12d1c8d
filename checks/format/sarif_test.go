package format

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v2/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/checks"
)

// schemaPath is the SARIF 2.1.0 schema, from an npm package (see its README).
var schemaPath = filepath.Join("..", "..", "testdata", "sarif", "sarif-schema-2.1.0.json")

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read %s: %v", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // uri, uri-reference, date-time, uuid are checked too
	const url = "file:///sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile SARIF schema: %v", err)
	}
	return sch
}

func validate(sch *jsonschema.Schema, b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func renderSARIF(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := SARIF(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSARIFSchema(t *testing.T) {
	sch := sarifSchema(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			if err := validate(sch, renderSARIF(t, fx.report())); err != nil {
				t.Errorf("SARIF output is not valid SARIF 2.1.0: %v", err)
			}
		})
	}
	t.Run("odd paths", func(t *testing.T) {
		r := fullReport()
		r.Verdicts[2].Findings[1].File = "infra/my bucket#1 100%.tf"
		r.Verdicts[2].Findings[0].File = "a:b/Dockerfile"
		if err := validate(sch, renderSARIF(t, r)); err != nil {
			t.Errorf("SARIF output is not valid SARIF 2.1.0: %v", err)
		}
	})
}

// TestSARIFSchemaRejects shows the schema test can fail: a log broken in
// ways a formatter could break it is rejected.
func TestSARIFSchemaRejects(t *testing.T) {
	sch := sarifSchema(t)
	good := renderSARIF(t, fullReport())
	tests := []struct {
		name   string
		mutate func(log map[string]any)
	}{
		{"unknown level", func(log map[string]any) { result(log)["level"] = "fatal" }},
		{"no message", func(log map[string]any) { delete(result(log), "message") }},
		{"null rules", func(log map[string]any) { run(log)["tool"].(map[string]any)["driver"].(map[string]any)["rules"] = nil }},
		{"no runs", func(log map[string]any) { delete(log, "runs") }},
		{"wrong version", func(log map[string]any) { log["version"] = "2.0.0" }},
		{"line 0", func(log map[string]any) {
			result(log)["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)["region"].(map[string]any)["startLine"] = 0
		}},
		{"bad fingerprint map", func(log map[string]any) { result(log)["partialFingerprints"] = map[string]any{"gatehouse/v1": 1} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log map[string]any
			if err := json.Unmarshal(good, &log); err != nil {
				t.Fatal(err)
			}
			tt.mutate(log)
			b, err := json.Marshal(log)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(sch, b); err == nil {
				t.Error("the schema accepted a broken log")
			}
		})
	}
}

func run(log map[string]any) map[string]any {
	return log["runs"].([]any)[0].(map[string]any)
}

func result(log map[string]any) map[string]any {
	return run(log)["results"].([]any)[0].(map[string]any)
}

// TestSARIFMapping checks what code scanning reads: runs per check, levels,
// security-severity, locations, fingerprints and the failed-scan run.
func TestSARIFMapping(t *testing.T) {
	r := fullReport()
	off := checks.Verdict{Check: "licenses", Mode: "off", Conclusion: checks.ConclusionSkipped, Title: "turned off by policy"}
	r.Verdicts = append(r.Verdicts, off)
	log, err := sarif.FromBytes(renderSARIF(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" {
		t.Errorf("version %q", log.Version)
	}
	var names []string
	for _, run := range log.Runs {
		names = append(names, run.Tool.Driver.Name)
	}
	if got, want := strings.Join(names, ","), "gatehouse/secrets,gatehouse/dependencies,gatehouse/iac"; got != want {
		t.Fatalf("runs %s, want %s (the skipped check has no run)", got, want)
	}

	type want struct {
		level, securitySeverity, uri, baseline string
		startLine, endLine                     int
	}
	wants := map[string]want{
		"aws-access-token": {"error", "8.0", "deploy/prod.env", "new", 4, 4},
		"CVE-2024-45337":   {"error", "9.5", "go.mod", "new", 12, 12},
		"CVE-2021-23337":   {"warning", "8.0", "web/package-lock.json", "unchanged", 0, 0},
		"CVE-2024-29415":   {"warning", "8.0", "web/package-lock.json", "new", 0, 0},
		"AWS-0086":         {"error", "8.0", "infra/storage.tf", "new", 14, 20},
		"DS-0002":          {"warning", "8.0", "Dockerfile", "unchanged", 0, 0},
	}
	seen := 0
	for _, run := range log.Runs {
		for _, res := range run.Results {
			id := *res.RuleID
			w, ok := wants[id]
			if !ok {
				t.Errorf("unexpected result %s (suppressed findings are not results)", id)
				continue
			}
			seen++
			rule := run.Tool.Driver.Rules[*res.RuleIndex]
			if rule.ID != id {
				t.Errorf("%s: ruleIndex points at %s", id, rule.ID)
			}
			if *res.Level != w.level || rule.Properties["security-severity"] != w.securitySeverity {
				t.Errorf("%s: level %s security-severity %v, want %s %s", id, *res.Level, rule.Properties["security-severity"], w.level, w.securitySeverity)
			}
			if res.BaselineState == nil || *res.BaselineState != w.baseline {
				t.Errorf("%s: baselineState %v, want %s", id, res.BaselineState, w.baseline)
			}
			pl := res.Locations[0].PhysicalLocation
			if *pl.ArtifactLocation.URI != w.uri || *pl.ArtifactLocation.URIBaseId != SARIFSrcRoot {
				t.Errorf("%s: location %s %s", id, *pl.ArtifactLocation.URI, *pl.ArtifactLocation.URIBaseId)
			}
			switch {
			case w.startLine == 0 && pl.Region != nil:
				t.Errorf("%s: region %+v for a finding without lines", id, pl.Region)
			case w.startLine > 0 && (pl.Region == nil || *pl.Region.StartLine != w.startLine || *pl.Region.EndLine != w.endLine):
				t.Errorf("%s: region %+v, want %d-%d", id, pl.Region, w.startLine, w.endLine)
			}
			if fp, _ := res.PartialFingerprints[SARIFFingerprintKey].(string); len(fp) != 32 {
				t.Errorf("%s: partial fingerprint %q", id, fp)
			}
		}
		if !*run.Invocations[0].ExecutionSuccessful {
			t.Errorf("%s: execution not successful", run.Tool.Driver.Name)
		}
	}
	if seen != len(wants) {
		t.Errorf("%d results, want %d", seen, len(wants))
	}
	secrets := log.Runs[0]
	if msg := *secrets.Results[0].Message.Text; !strings.Contains(msg, "Match: AKIA************MPLE.") || !strings.Contains(msg, "Commit: "+headRev) {
		t.Errorf("secret message %q lacks the redacted match or the commit", msg)
	}
	if ext := secrets.Tool.Extensions; len(ext) != 1 || ext[0].Name != "gitleaks" || *ext[0].Version != "v8.30.1" {
		t.Errorf("engine extension %+v", ext)
	}
	if sup, ok := secrets.Properties["suppressed"].([]any); !ok || len(sup) != 1 {
		t.Errorf("run properties list %v suppressed findings, want 1", secrets.Properties["suppressed"])
	}
	if msg := *log.Runs[1].Results[0].Message.Text; !strings.Contains(msg, "Fix: golang.org/x/crypto v0.30.0 → 0.31.0.") {
		t.Errorf("dependency message %q lacks the fix", msg)
	}
}

func TestSARIFFailedScan(t *testing.T) {
	log, err := sarif.FromBytes(renderSARIF(t, degradedReport()))
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 3 {
		t.Fatalf("%d runs, want 3", len(log.Runs))
	}
	deps := log.Runs[1]
	inv := deps.Invocations[0]
	if deps.Tool.Driver.Name != "gatehouse/dependencies" || *inv.ExecutionSuccessful || len(deps.Results) != 0 {
		t.Fatalf("failed run: %s successful=%v results=%d", deps.Tool.Driver.Name, *inv.ExecutionSuccessful, len(deps.Results))
	}
	n := inv.ToolExecutionNotifications[0]
	if n.Level != "error" || !strings.Contains(*n.Message.Text, "vulnerability database not found") {
		t.Errorf("notification %s %q", n.Level, *n.Message.Text)
	}
	iac := log.Runs[2]
	if !*iac.Invocations[0].ExecutionSuccessful || len(iac.Results) != 0 {
		t.Errorf("clean run: successful=%v results=%d", *iac.Invocations[0].ExecutionSuccessful, len(iac.Results))
	}
	if notes := iac.Invocations[0].ToolExecutionNotifications; len(notes) != 1 || notes[0].Level != "note" {
		t.Errorf("scope note not reported: %+v", notes)
	}
}
