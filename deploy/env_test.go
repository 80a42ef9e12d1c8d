package deploy

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// notYetRead are variables the deployment files already set for settings
// the design names but `gatehouse serve` does not read yet; a variable
// leaves this list when the binary reads it (the test says so).
var notYetRead = map[string]string{}

var gatehouseVar = regexp.MustCompile(`"(GATEHOUSE_[A-Z0-9_]+)"`)

// TestDeployedVariablesExist: every GATEHOUSE_* variable the chart or the
// compose file sets is one the binary reads, so a misspelt or renamed
// setting cannot be silently ignored.
func TestDeployedVariablesExist(t *testing.T) {
	sources, err := filepath.Glob("../cmd/gatehouse/*.go")
	if err != nil || len(sources) == 0 {
		t.Fatalf("cmd/gatehouse sources: %v", err)
	}
	read := map[string]bool{}
	for _, f := range sources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range gatehouseVar.FindAllSubmatch(b, -1) {
			read[string(m[1])] = true
		}
	}

	set := map[string]string{} // variable → where it is set
	for name, vals := range map[string]map[string]any{"chart defaults": nil, "chart scaled": valuesFile(t, "values-scaled.yaml")} {
		for _, d := range all[*appsv1.Deployment](decodeAll(t, mustRender(t, vals))) {
			for _, e := range container(t, d).Env {
				set[e.Name] = name + " " + d.Name
			}
		}
	}
	for svc, v := range loadCompose(t).data["services"].(map[string]any) {
		env, _ := v.(map[string]any)["environment"].(map[string]any)
		for name := range env {
			set[name] = "compose " + svc
		}
	}

	for _, name := range slices.Sorted(maps.Keys(set)) {
		if !gatehouseVar.MatchString(`"` + name + `"`) {
			continue // TMPDIR and friends
		}
		_, pending := notYetRead[name]
		switch {
		case read[name] && pending:
			t.Errorf("%s is read by gatehouse now: remove it from notYetRead", name)
		case !read[name] && !pending:
			t.Errorf("%s (set by %s) is not read by gatehouse (cmd/gatehouse)", name, set[name])
		}
	}
}
