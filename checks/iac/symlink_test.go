package iac

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// TestNeverLeavesTarget plants insecure Terraform outside the target and
// points symlinks and a module source at it; none of it may be read.
func TestNeverLeavesTarget(t *testing.T) {
	base := t.TempDir()
	outside := writeTree(t, filepath.Join(base, "outside"), map[string]string{
		"evil.tf":           fmt.Sprintf(openSG, "outside", "outside"),
		"mod/main.tf":       fmt.Sprintf(openSG, "outside_module", "outside_module"),
		"deployment.yaml":   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: outside\nspec:\n  containers:\n    - name: x\n      image: x\n      securityContext:\n        privileged: true\n",
		".trivyignore":      "AWS-0107\n",
		"Dockerfile":        "FROM alpine:3.20\n",
		"modules/a/vars.tf": "variable \"x\" {}\n",
	})
	repo := writeTree(t, filepath.Join(base, "repo"), map[string]string{
		"app/main.tf": `module "escape" {
  source = "../../outside/mod"
}

module "deeper" {
  source = "../../../../../../../../etc"
}
`,
	})
	links := map[string]string{
		"main.tf":         filepath.Join(outside, "evil.tf"),
		"passwd.tf":       "/etc/passwd",
		"k8s.yaml":        filepath.Join(outside, "deployment.yaml"),
		"Dockerfile":      "../outside/Dockerfile",
		"linked":          outside, // a directory
		".trivyignore":    filepath.Join(outside, ".trivyignore"),
		"app/modules.tf":  filepath.Join(outside, "mod", "main.tf"),
		"app/relative.tf": "../../outside/evil.tf",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(repo, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}

	// The symlinked ignore file is refused where ignore files are read
	// (the pipeline lists it with the check's skips), never followed.
	ign, ignSkips, err := checks.ReadIgnoreFiles(repo)
	if err != nil || len(ign) != 0 {
		t.Fatalf("ReadIgnoreFiles = %v, %v; want the symlink skipped", ign, err)
	}
	res := run(t, scanner(t), checks.Target{Dir: repo, Ignore: ign})
	res.Scope.Skipped = append(res.Scope.Skipped, ignSkips...)

	for _, f := range append(res.Findings, suppressedFindings(res)...) {
		if f.File != "app/main.tf" || strings.Contains(f.Message, "outside") {
			t.Errorf("finding from outside the target: %+v", f)
		}
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings = %v; want none", locs(res.Findings))
	}
	for name := range links {
		if r := skipReason(res.Scope.Skipped, name); !strings.Contains(r, "symlink") && !strings.Contains(r, "not a regular file") {
			t.Errorf("%s: skip reason %q; want it reported as a symlink not followed", name, r)
		}
	}
	if want := []string{"app/main.tf (terraform)"}; !slices.Equal(res.Scope.Inputs, want) {
		t.Errorf("inputs = %q, want %q", res.Scope.Inputs, want)
	}

	// Control: the same file copied in as a regular file is read and found.
	data, err := os.ReadFile(filepath.Join(outside, "evil.tf"))
	if err != nil {
		t.Fatal(err)
	}
	copyDir := writeTree(t, t.TempDir(), map[string]string{"main.tf": string(data)})
	if ctl := run(t, scanner(t), checks.Target{Dir: copyDir}); !hasRule(ctl.Findings, "AWS-0107", "main.tf") {
		t.Errorf("control: the planted file yields no AWS-0107 when inside the target: %v", locs(ctl.Findings))
	}
}

// TestSymlinkedTargetPath: a symlink named in Target.Paths is not followed.
func TestSymlinkedTargetPath(t *testing.T) {
	base := t.TempDir()
	writeTree(t, filepath.Join(base, "outside"), map[string]string{"evil.tf": fmt.Sprintf(openSG, "o", "o")})
	repo := filepath.Join(base, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "outside"), filepath.Join(repo, "infra")); err != nil {
		t.Fatal(err)
	}
	res := run(t, scanner(t), checks.Target{Dir: repo, Paths: []string{"infra", "infra/evil.tf"}})
	if len(res.Findings) != 0 || res.Scope.Files != 0 {
		t.Errorf("findings = %v, files = %d; want nothing read", locs(res.Findings), res.Scope.Files)
	}
}

func suppressedFindings(res *checks.Result) []checks.Finding {
	var out []checks.Finding
	for _, s := range res.Suppressed {
		out = append(out, s.Finding)
	}
	return out
}
