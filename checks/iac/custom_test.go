package iac

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/mapfs"

	"github.com/gatehouse/gatehouse/checks"
)

const examplesDir = "../../testdata/custom-checks"

// kubeCheck is a custom check on Kubernetes manifests whose deny rule body
// is body (which must bind res).
func kubeCheck(id, body string) string {
	return fmt.Sprintf(`# METADATA
# title: Probe %[1]s
# custom:
#   id: %[1]s
#   severity: HIGH
#   recommended_actions: Fix it.
#   input:
#     selector:
#       - type: kubernetes
package user.probe.%[2]s

import rego.v1

deny contains res if {
%[3]s
}
`, id, strings.ToLower(strings.ReplaceAll(id, "-", "_")), body)
}

func custom(name, content string) checks.CustomCheck {
	return checks.NewCustomCheck(name, checks.OriginRepo, []byte(content))
}

func example(t *testing.T, rel string) checks.CustomCheck {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return checks.NewCustomCheck(rel, checks.OriginOrg, b)
}

func vetAll(t *testing.T, cc ...checks.CustomCheck) []checks.CustomStatus {
	t.Helper()
	st, err := Vet(cc)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(cc) {
		t.Fatalf("%d statuses for %d checks", len(st), len(cc))
	}
	return st
}

// Every refused builtin is refused wherever it is called, with its line;
// the same module calling a permitted builtin loads (the control).
func TestCustomCheckRefusedBuiltins(t *testing.T) {
	calls := map[string]string{
		"http.send":          `	r := http.send({"method": "GET", "url": "http://127.0.0.1:1/"})`,
		"net.lookup_ip_addr": `	r := net.lookup_ip_addr("example.com")`,
		"opa.runtime":        `	r := opa.runtime().env`,
		"rand.intn":          `	r := rand.intn("x", 10)`,
		"uuid.rfc4122":       `	r := uuid.rfc4122("x")`,
		"net.cidr_expand":    `	r := net.cidr_expand("10.0.0.0/30")`,
	}
	if len(calls) != len(RefusedBuiltins) {
		t.Fatalf("the test covers %d builtins, %d are refused", len(calls), len(RefusedBuiltins))
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			src := kubeCheck("T-1", "\tinput.kind == \"Deployment\"\n"+call+"\n\tres := result.new(sprintf(\"%v\", [r]), input)")
			st := vetAll(t, custom("probe.rego", src))[0]
			if !strings.Contains(st.Rejected, "calls "+name+", which custom checks may not use") {
				t.Fatalf("rejected = %q, want %s refused", st.Rejected, name)
			}
			if st.Line != 16 {
				t.Errorf("line = %d, want 16 (the call)", st.Line)
			}
		})
	}
	// Control: permitted builtins load.
	src := kubeCheck("T-2", "\tinput.kind == \"Deployment\"\n\tnet.cidr_contains(\"10.0.0.0/8\", \"10.1.2.3\")\n\tr := sprintf(\"%d\", [count(numbers.range(1, 3))])\n\tres := result.new(r, input)")
	if st := vetAll(t, custom("ok.rego", src))[0]; st.Rejected != "" {
		t.Errorf("a check with permitted builtins was rejected: %s", st.Rejected)
	}
}

func TestCustomCheckLoadingRules(t *testing.T) {
	good := kubeCheck("T-3", "\tinput.kind == \"Deployment\"\n\tres := result.new(\"x\", input)")
	for _, c := range []struct {
		name, src string
		line      int
		want      string
	}{
		{"syntax", strings.Replace(good, "deny contains res if {", "deny contains res if {{", 1), 16, "does not parse"},
		{"v1 without import", strings.Replace(good, "import rego.v1\n", "", 1), 13, "add `import rego.v1`"},
		{"no metadata", "package user.x\n\nimport rego.v1\n\ndeny contains res if {\n\tres := result.new(\"x\", input)\n}\n", 1, "needs a # METADATA block"},
		{"no id", strings.Replace(good, "#   id: T-3\n", "", 1), 9, "no custom.id"},
		{"bad severity", strings.Replace(good, "severity: HIGH", "severity: URGENT", 1), 10, `custom.severity "URGENT"`},
		{"reserved namespace", strings.Replace(good, "package user.probe.t_3", "package builtin.kubernetes.T3", 1), 10, `reserved namespace "builtin"`},
		{"embedded package", strings.Replace(good, "package user.probe.t_3", "package lib.kubernetes", 1), 10, "embedded packages"},
		{"legacy metadata", good + "\n__rego_metadata__ := {\"id\": \"T-3\"}\n", 19, "legacy format"},
		{"selector gatehouse does not scan", strings.Replace(good, "type: kubernetes", "type: yaml", 1), 10, "matches nothing gatehouse scans"},
		{"undefined ref", strings.Replace(good, `result.new("x", input)`, `result.new(undefined_thing, input)`, 1), 16, "does not compile"},
		{"deprecated", strings.Replace(good, "#   severity: HIGH", "#   severity: HIGH\n#   deprecated: true", 1), 11, "trivy would skip it"},
		{"too large", good + "\n# " + strings.Repeat("x", checks.MaxCustomCheckSize) + "\n", 0, "byte limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := vetAll(t, custom("c.rego", c.src))[0]
			if !strings.Contains(st.Rejected, c.want) {
				t.Fatalf("rejected = %q, want it to say %q", st.Rejected, c.want)
			}
			if st.Line != c.line {
				t.Errorf("line = %d, want %d (%s)", st.Line, c.line, st.Rejected)
			}
		})
	}
	// A library module (no deny rule) loads, and a check may import it.
	lib := "package user.lib.names\n\nimport rego.v1\n\nteam(obj) := obj.metadata.labels.team\n"
	check := kubeCheck("T-4", "\tinput.kind == \"Deployment\"\n\tnot data.user.lib.names.team(input)\n\tres := result.new(\"x\", input)")
	st := vetAll(t, custom("lib.rego", lib), custom("check.rego", check), custom("good.rego", good))
	for _, s := range st {
		if s.Rejected != "" {
			t.Errorf("%s rejected: %s", s.Name, s.Rejected)
		}
	}
	if st[0].ID != "" || st[1].ID != "T-4" {
		t.Errorf("ids = %q, %q; want a library without one and T-4", st[0].ID, st[1].ID)
	}
}

// One bad module does not take the others down.
func TestCustomCheckRejectionIsPerModule(t *testing.T) {
	bad := kubeCheck("T-5", "\tr := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1/\"})\n\tres := result.new(\"x\", r)")
	broken := kubeCheck("T-6", "\tres := result.new(\"x\", input")
	st := vetAll(t, custom("bad.rego", bad), example(t, "kubernetes-team-label/team_label.rego"), custom("broken.rego", broken))
	if st[0].Rejected == "" || st[2].Rejected == "" {
		t.Errorf("bad modules not rejected: %+v", st)
	}
	if st[1].Rejected != "" || st[1].ID != "ORG-K8S-001" {
		t.Errorf("the good module was affected: %+v", st[1])
	}

	// Two checks in one package: the second is rejected (findings are told
	// apart by package).
	team := example(t, "kubernetes-team-label/team_label.rego")
	twin := custom("twin.rego", strings.Replace(team.Content, "ORG-K8S-001", "ORG-K8S-002", 1))
	st = vetAll(t, team, twin)
	if st[0].Rejected != "" || !strings.Contains(st[1].Rejected, "package user.kubernetes.team_label is also the package of kubernetes-team-label/team_label.rego") {
		t.Errorf("twin packages: %+v", st)
	}
}

func TestCustomCheckFindingsOnExactLines(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"k8s/unlabelled.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 1\n",
		"k8s/labelled.yaml":   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  labels:\n    app: api\n    team: payments\nspec:\n  replicas: 1\n",
		"infra/main.tf":       mustRead(t, filepath.Join(examplesDir, "terraform-cost-centre/main.tf")),
	})
	res := run(t, scanner(t), checks.Target{Dir: dir, Custom: []checks.CustomCheck{
		example(t, "kubernetes-team-label/team_label.rego"),
		example(t, "terraform-cost-centre/cost_centre.rego"),
	}})
	for _, s := range res.Custom {
		if s.Rejected != "" {
			t.Fatalf("%s rejected: %s", s.Name, s.Rejected)
		}
	}
	var got []string
	for _, f := range res.Findings {
		if f.Custom == "" {
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %s:%d-%d", f.RuleID, f.Severity, f.File, f.StartLine, f.EndLine))
		switch f.RuleID {
		case "ORG-K8S-001":
			if f.Title != "Deployment names its owning team" || f.Message != "Deployment 'web' has no team label" ||
				!strings.HasPrefix(f.Remediation.Text, "Add metadata.labels.team") || f.Remediation.URL != "https://wiki.example.com/platform/ownership" ||
				f.Custom != "kubernetes-team-label/team_label.rego" {
				t.Errorf("custom finding lacks its metadata: %+v", f)
			}
		case "ORG-TF-001":
			if f.Message != "aws_s3_bucket.logs has no cost-centre tag" {
				t.Errorf("terraform finding message = %q", f.Message)
			}
		}
	}
	want := []string{
		"ORG-TF-001 medium infra/main.tf:3-5",
		"ORG-K8S-001 high k8s/unlabelled.yaml:3-6",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("custom findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The built-in checks still ran on the same files.
	if !hasBuiltin(res.Findings) {
		t.Error("no built-in finding: the built-in checks did not run alongside")
	}
}

func hasBuiltin(fs []checks.Finding) bool {
	for _, f := range fs {
		if f.Custom == "" {
			return true
		}
	}
	return false
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// slowCheck iterates a billion times over the input without building
// anything: it only ends when its evaluation is cancelled.
var slowCheck = kubeCheck("T-SLOW", `	input.kind == "Deployment"
	n := count([x |
		some a in numbers.range(1, 1000)
		some b in numbers.range(1, 1000)
		some c in numbers.range(1, 1000)
		x := a + b + c
		x < 0
	])
	res := result.new(sprintf("%d", [n]), input)`)

// A check that exceeds its budget is rejected, named with its line, and
// reports nothing; the check after it still runs. The assertions are on
// the outcome only.
func TestCustomCheckTimeBudget(t *testing.T) {
	s, err := New(Options{CustomCheckBudget: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeTree(t, t.TempDir(), map[string]string{"deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"})
	res := run(t, s, checks.Target{Dir: dir, Custom: []checks.CustomCheck{
		custom("slow.rego", slowCheck),
		example(t, "kubernetes-team-label/team_label.rego"),
	}})
	slow, label := res.Custom[0], res.Custom[1]
	if !strings.Contains(slow.Rejected, "did not finish within its 2s time budget") || slow.Line != 10 {
		t.Errorf("slow check: %+v, want rejected for its budget at its package line", slow)
	}
	if label.Rejected != "" {
		t.Errorf("the next check did not run: %+v", label)
	}
	for _, f := range res.Findings {
		if f.RuleID == "T-SLOW" {
			t.Errorf("a timed-out check reported %+v", f)
		}
	}
	if !slicesContainsRule(res.Findings, "ORG-K8S-001") {
		t.Error("the check after the slow one reported nothing")
	}

	// A used-up scan budget: no check is evaluated, each says why.
	s2, err := New(Options{CustomScanBudget: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	res = run(t, s2, checks.Target{Dir: dir, Custom: []checks.CustomCheck{example(t, "kubernetes-team-label/team_label.rego")}})
	if !strings.Contains(res.Custom[0].Rejected, "not evaluated") {
		t.Errorf("status = %+v, want not evaluated for the used-up budget", res.Custom[0])
	}
}

func slicesContainsRule(fs []checks.Finding, id string) bool {
	for _, f := range fs {
		if f.RuleID == id {
			return true
		}
	}
	return false
}

// A check that calls http.send towards a listener makes no request. The
// control shows that trivy's Rego scanner, on its own, would have made it.
func TestCustomCheckHTTPSendMakesNoRequest(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"ok": true}`)
	}))
	defer srv.Close()
	src := kubeCheck("T-NET", fmt.Sprintf("\tinput.kind == \"Deployment\"\n\tr := http.send({\"method\": \"GET\", \"url\": %q})\n\tres := result.new(sprintf(\"%%v\", [r.status_code]), input)", srv.URL))
	dir := writeTree(t, t.TempDir(), map[string]string{"deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"})
	res := run(t, scanner(t), checks.Target{Dir: dir, Custom: []checks.CustomCheck{custom("net.rego", src)}})
	if !strings.Contains(res.Custom[0].Rejected, "calls http.send") {
		t.Errorf("status = %+v, want http.send refused", res.Custom[0])
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the listener saw %d requests", n)
	}

	// Control: the same module loaded into trivy directly calls out.
	fsys := mapfs.New()
	if err := fsys.WriteVirtualFile("net.rego", []byte(src), 0o444); err != nil {
		t.Fatal(err)
	}
	rs := rego.NewScanner(rego.WithEmbeddedLibraries(true), rego.WithPolicyFilesystem(fsys), rego.WithPolicyDirs("."), rego.WithPolicyNamespaces("user"))
	if err := rs.LoadPolicies(nil); err != nil {
		t.Fatal(err)
	}
	set, err := collect(context.Background(), dir, nil, DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := scanType(context.Background(), "kubernetes", rs, set.fsys["kubernetes"], nil); err != nil {
		t.Fatal(err)
	}
	if hits.Load() == 0 {
		t.Error("control: trivy alone made no request either, so the test proves nothing")
	}
}
