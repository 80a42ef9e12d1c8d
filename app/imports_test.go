package app_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The GitHub-facing half never loads an engine: app/ reaches the checks
// through the verdict pipeline and the runner it is given, so no trivy or
// gitleaks package, and no engine adapter, is among its dependencies.
func TestAppImportsNoEngine(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "github.com/gatehouse/gatehouse/app/...")
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/aquasecurity/", "github.com/zricethezav/gitleaks",
		"gatehouse/checks/deps", "gatehouse/checks/iac", "gatehouse/checks/secrets", "gatehouse/checks/registry", "gatehouse/checks/sandbox"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.Contains(pkg, f) {
				t.Errorf("app/... depends on %s", pkg)
			}
		}
	}
}
