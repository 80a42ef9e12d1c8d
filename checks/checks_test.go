package checks

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestFingerprintIgnoresPositionAndIndent(t *testing.T) {
	a := Fingerprint(IaC, "AWS-0107", "main.tf", NormalizeContent("  cidr = \"0.0.0.0/0\"\n"))
	b := Fingerprint(IaC, "AWS-0107", "main.tf", NormalizeContent("cidr = \"0.0.0.0/0\""))
	if a != b {
		t.Error("re-indented content changed the fingerprint")
	}
	for _, other := range []string{
		Fingerprint(IaC, "AWS-0107", "other.tf", "cidr = \"0.0.0.0/0\""),
		Fingerprint(IaC, "AWS-0108", "main.tf", "cidr = \"0.0.0.0/0\""),
		Fingerprint(Secrets, "AWS-0107", "main.tf", "cidr = \"0.0.0.0/0\""),
		// The separator keeps ("ab","c") apart from ("a","bc").
		Fingerprint(IaC, "AWS-0107", "main.t", "fcidr = \"0.0.0.0/0\""),
	} {
		if other == a {
			t.Error("different findings share a fingerprint")
		}
	}
}

func TestSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"CRITICAL": SeverityCritical, "high": SeverityHigh, "Moderate": SeverityMedium, "low": SeverityLow, "UNKNOWN": SeverityInfo, "negligible": SeverityInfo} {
		got, err := ParseSeverity(in)
		if err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity accepted nonsense")
	}
	b, _ := json.Marshal(SeverityHigh)
	var s Severity
	if string(b) != `"high"` || json.Unmarshal(b, &s) != nil || s != SeverityHigh {
		t.Errorf("JSON round trip: %s → %v", b, s)
	}
	if !(SeverityCritical > SeverityHigh && SeverityHigh > SeverityMedium && SeverityLow > SeverityInfo) {
		t.Error("severities are out of order")
	}
}

type fakeCheck struct {
	name string
	run  func() (*Result, error)
}

func (f fakeCheck) Name() string                                 { return f.name }
func (f fakeCheck) Engine() Engine                               { return Engine{Name: "fake", Version: "v1"} }
func (f fakeCheck) Run(context.Context, Target) (*Result, error) { return f.run() }

// One failing or panicking check does not stop the others.
func TestLocalRunnerIsolatesFailures(t *testing.T) {
	l := &Local{Checks: []Check{
		fakeCheck{"ok", func() (*Result, error) { return &Result{Findings: []Finding{{RuleID: "r"}}}, nil }},
		fakeCheck{"err", func() (*Result, error) { return nil, errors.New("db missing") }},
		fakeCheck{"panic", func() (*Result, error) { panic("hostile input") }},
		fakeCheck{"nil", func() (*Result, error) { return nil, nil }},
	}}
	resp, err := l.Run(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Result("ok")
	if r == nil || r.Check != "ok" || r.Findings[0].Check != "ok" || r.Engine.Name != "fake" {
		t.Errorf("ok result = %+v", r)
	}
	for name, want := range map[string]string{"err": "db missing", "panic": "panicked: hostile input", "nil": "no result"} {
		if !strings.Contains(resp.Errors[name], want) {
			t.Errorf("error of %s = %q, want %q", name, resp.Errors[name], want)
		}
	}
	if _, err := l.Run(context.Background(), Request{Checks: []string{"nope"}}); err == nil {
		t.Error("an unknown check was accepted")
	}
	only, _ := l.Run(context.Background(), Request{Checks: []string{"ok"}})
	if len(only.Results) != 1 || len(only.Errors) != 0 {
		t.Errorf("Checks filter ignored: %+v", only)
	}
}
