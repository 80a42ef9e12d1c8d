package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/iac"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// TestDogfoodIaC runs gatehouse's own IaC check on what operators deploy,
// with the built-in policy: this directory as `gatehouse scan --checks iac
// deploy/` sees it (the Dockerfile, and the chart rendered with its
// defaults), and the manifests of the scaled-out values, which the
// chart-as-a-directory scan never renders. Nothing may block. A control
// case renders an insecure pod and must block, so a scanner that quietly
// checks nothing cannot pass.
func TestDogfoodIaC(t *testing.T) {
	sc, err := iac.New(iac.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	scaled := writeManifests(t, mustRender(t, valuesFile(t, "values-scaled.yaml")))
	insecure := writeManifests(t, mustRender(t, map[string]any{
		"securityContext": map[string]any{"privileged": true, "allowPrivilegeEscalation": true,
			"readOnlyRootFilesystem": false, "runAsNonRoot": false, "runAsUser": 0},
	}))
	tests := []struct {
		name       string
		dir        string
		wantInputs []string // files the scan must have read
		wantBlock  bool
	}{
		{name: "deploy directory", dir: ".", wantInputs: []string{"Dockerfile", "helm/gatehouse/templates/deployment.yaml"}},
		{name: "scaled-out manifests", dir: scaled, wantInputs: []string{"deployment-web.yaml", "deployment-worker.yaml"}},
		{name: "control: insecure pod", dir: insecure, wantInputs: []string{"deployment-all.yaml"}, wantBlock: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sc.Run(context.Background(), checks.Target{Dir: tt.dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range tt.wantInputs {
				// Inputs read "path (type)".
				if !slices.ContainsFunc(res.Scope.Inputs, func(s string) bool { return strings.HasPrefix(s, in+" (") }) {
					t.Errorf("scan did not read %s (inputs %v)", in, res.Scope.Inputs)
				}
			}
			if len(res.Scope.Skipped) > 0 {
				t.Errorf("scan skipped %+v: a chart that does not render offline is not checked", res.Scope.Skipped)
			}
			verdicts := policy.Evaluate(policy.Input{Results: []*checks.Result{res}})
			if len(verdicts) != 1 {
				t.Fatalf("%d verdicts, want 1", len(verdicts))
			}
			v := verdicts[0]
			var blocking []string
			for _, f := range v.Findings {
				line := fmt.Sprintf("%s %s %s: %s", f.Severity, f.RuleID, f.Location(), f.Title)
				if f.Blocking {
					blocking = append(blocking, line)
				}
				t.Logf("blocking=%v: %s", f.Blocking, line)
			}
			if got := len(blocking) > 0; got != tt.wantBlock {
				t.Errorf("blocking = %v, want %v (conclusion %s):\n%s", got, tt.wantBlock, v.Conclusion, strings.Join(blocking, "\n"))
			}
		})
	}
}

// writeManifests writes rendered manifests to a temporary directory as
// plain Kubernetes files named kind-name.yaml, the way `helm template`
// output is often committed.
func writeManifests(t *testing.T, manifests map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, o := range decodeAll(t, manifests) {
		meta, ok := o.obj.(interface{ GetName() string })
		if !ok {
			t.Fatalf("%s has no name", o.source)
		}
		kind := strings.ToLower(o.kind[strings.LastIndex(o.kind, "/")+1:])
		name := strings.TrimPrefix(meta.GetName(), releaseName+"-gatehouse-")
		if name == releaseName+"-gatehouse" {
			name = "main"
		}
		file := filepath.Join(dir, kind+"-"+name+".yaml")
		if err := os.WriteFile(file, []byte(manifests[o.key]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
