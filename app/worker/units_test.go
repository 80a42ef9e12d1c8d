package worker

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/checks"
)

func entries(paths ...string) []gitfetch.Entry {
	var out []gitfetch.Entry
	for i, p := range paths {
		out = append(out, gitfetch.Entry{Path: p, Mode: "100644", Type: "blob", OID: fmt.Sprintf("%040x", i+1), Size: 10})
	}
	return out
}

func iacUnits(t *tree) []string {
	var out []string
	for _, u := range t.units(checks.IaC, "e") {
		var files []string
		for _, f := range u.files {
			files = append(files, f.Path)
		}
		out = append(out, fmt.Sprintf("%s %s %v", u.kind, u.path, files))
	}
	slices.Sort(out)
	return out
}

// IaC units: a Helm chart directory as a whole, all Terraform files as one
// set (modules call each other across directories), other files one by one;
// a chart at the root takes every IaC file.
func TestIaCUnits(t *testing.T) {
	tr := newTree(entries("k8s/a.yaml", "charts/web/Chart.yaml", "charts/web/templates/d.yaml", "charts/web/main.tf",
		"infra/main.tf", "modules/m/vars.tf", "Dockerfile", "src/x.go"), "root")
	tr.trees["charts/web"] = "chartTree"
	want := []string{
		"chart charts/web [charts/web/Chart.yaml charts/web/templates/d.yaml charts/web/main.tf]",
		"file Dockerfile [Dockerfile]",
		"file k8s/a.yaml [k8s/a.yaml]",
		"set  [infra/main.tf modules/m/vars.tf]",
	}
	if got := iacUnits(tr); !slices.Equal(got, want) {
		t.Errorf("units:\n%v\nwant\n%v", got, want)
	}
	root := newTree(entries("Chart.yaml", "templates/d.yaml", "values.yaml", "k8s/a.yaml"), "root")
	if got := iacUnits(root); len(got) != 1 || got[0] != "chart . [Chart.yaml templates/d.yaml values.yaml k8s/a.yaml]" {
		t.Errorf("root chart units: %v", got)
	}
	// The chart's key follows its tree id; a file's its blob.
	before := tr.units(checks.IaC, "e")
	tr.trees["charts/web"] = "changed"
	after := tr.units(checks.IaC, "e")
	for i := range before {
		if (before[i].kind == "chart") == (before[i].key == after[i].key) {
			t.Errorf("%s %s: key before %s after %s", before[i].kind, before[i].path, before[i].key[:8], after[i].key[:8])
		}
	}
}
