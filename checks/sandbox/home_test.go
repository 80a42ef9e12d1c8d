//go:build linux

package sandbox_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestRootWithPrivateHome is serve's default setup as root on a stock
// machine: the binary, the data directory and the checkouts all under a
// 0700 home the sandbox user (65534) cannot enter. The child still runs
// (its binary is executed through a descriptor), reads the DB and the
// checkout (read-only mounts made by the parent) and nothing else of the
// home.
func TestRootWithPrivateHome(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.CannotRun(t, "needs root: the child must run as another user than the parent")
	}
	home := t.TempDir()
	must(t, os.Chmod(home, 0o700))
	// The binary, built into a 0700 tree.
	bin := filepath.Join(home, "src", "gatehouse", "bin", "gatehouse")
	must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	exe, err := os.Executable()
	must(t, err)
	b, err := os.ReadFile(exe)
	must(t, err)
	must(t, os.WriteFile(bin, b, 0o755))
	data := filepath.Join(home, ".local", "share", "gatehouse")
	depstest.BuildDB(t, registry.DBDir(data))
	scans := filepath.Join(data, "work", "scans")
	dir := filepath.Join(scans, "scan-1", "head")
	must(t, os.MkdirAll(dir, 0o755))
	out, err := exec.Command("cp", "-r", filepath.Join(fixtures, "deps")+"/.", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("copy fixture: %v: %s", err, out)
	}
	secret := filepath.Join(home, "secret.txt")
	must(t, os.WriteFile(secret, []byte("HOME-ONLY"), 0o644))
	must(t, os.Symlink(secret, filepath.Join(dir, "link")))
	p, err := json.Marshal(probeParams{Outside: secret, Link: "link", ParentPID: os.Getpid()})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "probe.json"), p, 0o644))
	must(t, openUp(dir))

	r, err := sandbox.New(context.Background(), sandbox.Config{
		Command: []string{bin, sandbox.ChildCommand}, DataDir: data, CheckoutRoot: scans, Pool: -1,
	})
	if err != nil {
		t.Fatalf("sandbox.New as root with a 0700 home: %v", err)
	}
	defer r.Close()
	for _, l := range r.Layers() {
		if !l.Active {
			testenv.CannotRun(t, "layer %s unavailable: %s", l.Name, l.Detail)
		}
	}
	resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: dir},
		Checks: []string{checks.Dependencies, "probe-read"}})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %v", resp.Errors)
	}
	if d := resp.Result(checks.Dependencies); d == nil || len(d.Findings) == 0 {
		t.Errorf("dependencies: no findings: the child did not read the DB")
	}
	res := resp.Result("probe-read")
	noEscape(t, res, "HOME-ONLY")
	if !hasNote(res, "checkout read: ok") {
		t.Error("the child could not read its own checkout")
	}
}
