package policysource

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

func TestLimitHitFailsABlockingCheck(t *testing.T) {
	neutral, err := policy.Parse("p.yml", []byte("version: 1\non_error: neutral\n"))
	if err != nil {
		t.Fatal(err)
	}
	warnIaC, err := policy.Parse("w.yml", []byte("version: 1\nchecks:\n  iac:\n    mode: warn\n"))
	if err != nil {
		t.Fatal(err)
	}
	res := []*checks.Result{{Check: checks.IaC, Scope: checks.Scope{Skipped: []checks.Skip{{Path: "big.tf", Reason: "limit: file larger than 10 MB"}}}}}
	for _, tt := range []struct {
		name string
		file *policy.File
		want checks.Conclusion
	}{
		{"default fails", nil, checks.ConclusionFailure},
		{"on_error neutral keeps the verdict", neutral, checks.ConclusionSuccess},
		{"warn mode keeps the verdict", warnIaC, checks.ConclusionSuccess},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var layers []policy.Layer
			if tt.file != nil {
				layers = append(layers, policy.Layer{Source: policy.SourceRepo, File: tt.file})
			}
			pol, err := policy.Resolve(layers...)
			if err != nil {
				t.Fatal(err)
			}
			vs := policy.Evaluate(policy.Input{Policy: pol, Results: res})
			failOnLimits(vs, res, pol)
			if vs[0].Conclusion != tt.want {
				t.Errorf("conclusion = %s, want %s", vs[0].Conclusion, tt.want)
			}
			if tt.file != warnIaC && !strings.Contains(strings.Join(vs[0].Notes, " "), "big.tf") {
				t.Errorf("notes do not name the file: %v", vs[0].Notes)
			}
		})
	}
}

func TestChangedChecks(t *testing.T) {
	got := changedChecks([]string{
		".github/gatehouse/checks/team.rego", ".github/gatehouse/checks/team_test.rego",
		".github/gatehouse/checks/sub/x.rego", ".github/gatehouse.yml", "k8s/web.yaml", ".github/gatehouse/checks/README.md",
	})
	want := []string{".github/gatehouse/checks/team.rego"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("changedChecks = %v, want %v", got, want)
	}
}
