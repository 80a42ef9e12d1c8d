//go:build linux

package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// TestGatehouseBinary runs a scan with a built gatehouse binary as the
// child (its hidden sandbox-child subcommand) instead of this test binary.
// Set GATEHOUSE_SANDBOX_BINARY to the binary's path to run it.
func TestGatehouseBinary(t *testing.T) {
	bin := os.Getenv("GATEHOUSE_SANDBOX_BINARY")
	if bin == "" {
		t.Skip("GATEHOUSE_SANDBOX_BINARY not set")
	}
	r, err := sandbox.New(context.Background(), sandbox.Config{
		Command: []string{bin, sandbox.ChildCommand}, DataDir: dataDir(t), Pool: -1,
	})
	must(t, err)
	defer r.Close()
	t.Log(r.Status())
	dir, err := filepath.Abs(filepath.Join(fixtures, "deps"))
	must(t, err)
	resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: dir}, Checks: registry.Names})
	must(t, err)
	if len(resp.Errors) > 0 || len(resp.Results) != len(registry.Names) {
		t.Fatalf("errors %v, %d results", resp.Errors, len(resp.Results))
	}
	if d := resp.Result(checks.Dependencies); len(d.Findings) == 0 || len(d.SBOM) == 0 {
		t.Errorf("dependencies: %d findings, %d bytes of SBOM", len(d.Findings), len(d.SBOM))
	}
}
