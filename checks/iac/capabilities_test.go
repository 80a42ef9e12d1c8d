package iac

import (
	"maps"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
)

// unsafeBuiltins are Rego builtins that reach the network or the process
// environment. trivy v0.72 compiles checks with OPA's full capabilities and
// offers no option to withhold these: gatehouse's built-in scanner loads
// only the embedded checks, and this test proves they call none of them.
// Custom checks are compiled by gatehouse first with RefusedBuiltins
// withheld (custom.go), which includes every one of these.
var unsafeBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// calledBuiltins lists the unsafe builtins a module calls, by module file.
func calledBuiltins(modules map[string]*ast.Module) map[string][]string {
	out := make(map[string][]string)
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		// A builtin is named by a ref, whether called as a term
		// (x := http.send(req)) or as an expression (http.send(req, x)).
		ast.WalkRefs(modules[name], func(r ast.Ref) bool {
			op := r.String()
			if slices.Contains(unsafeBuiltins, op) && !slices.Contains(out[name], op) {
				out[name] = append(out[name], op)
			}
			return false
		})
	}
	return out
}

func TestEmbeddedChecksUseNoNetworkBuiltins(t *testing.T) {
	checksMods, err := rego.LoadEmbeddedPolicies()
	if err != nil {
		t.Fatal(err)
	}
	libs, err := rego.LoadEmbeddedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(checksMods) < 100 {
		t.Fatalf("only %d embedded checks loaded", len(checksMods))
	}
	all := maps.Clone(checksMods)
	maps.Copy(all, libs)
	if got := calledBuiltins(all); len(got) != 0 {
		t.Errorf("embedded checks call network or runtime builtins: %v", got)
	}

	for _, b := range unsafeBuiltins {
		if _, ok := RefusedBuiltins[b]; !ok {
			t.Errorf("%s is not refused to custom checks", b)
		}
	}

	// Control: the walker does see such a call.
	mod, err := ast.ParseModuleWithOpts("probe.rego", `package probe

deny contains msg if {
	resp := http.send({"method": "GET", "url": "http://127.0.0.1/"})
	msg := sprintf("%v", [resp.status_code])
}
`, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	if got := calledBuiltins(map[string]*ast.Module{"probe.rego": mod}); len(got["probe.rego"]) != 1 {
		t.Errorf("control: calledBuiltins missed http.send: %v", got)
	}
}
