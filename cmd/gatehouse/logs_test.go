package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// runMain runs the test binary as gatehouse (see TestMain) with args and no
// GATEHOUSE_* variable from the caller, and returns what it wrote on
// stderr: the real process's, whoever writes to it.
func runMain(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GATEHOUSE_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() > 1 {
			t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	}
	return stderr.String()
}

// trivyFormat is a line of trivy's own log handler: time, a tab, the level.
var trivyFormat = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\S+\s+(DEBUG|INFO|WARN|ERROR|FATAL)\s`)

// TestScanEngineLogLines: a Terraform module gatehouse cannot load (its
// source is not in the tree, and nothing is ever downloaded) makes trivy
// log an ERROR. For a gatehouse user that is a warning at most: absent at
// the default --log-level (error), a WARN in gatehouse's own format at
// warn, and never in trivy's format.
func TestScanEngineLogLines(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "main.tf", "module \"network\" {\n  source = \"./modules/network\"\n}\n")
	scan := []string{"scan", "--offline", "--no-cache", "--checks", "iac", "--data-dir", t.TempDir(), dir}
	const line = "Failed to load module"

	quiet := runMain(t, scan...)
	if strings.Contains(quiet, line) {
		t.Errorf("at the default level, trivy's %q shows:\n%s", line, quiet)
	}
	verbose := runMain(t, append(scan, "--log-level", "warn")...)
	var found bool
	for _, l := range strings.Split(verbose, "\n") {
		if strings.Contains(l, line) {
			found = true
			if !strings.HasPrefix(l, "time=") || !strings.Contains(l, " level=WARN ") || !strings.Contains(l, " engine=trivy") {
				t.Errorf("not a gatehouse warning from trivy: %s", l)
			}
		}
	}
	if !found {
		t.Errorf("at --log-level warn, no %q line:\n%s", line, verbose)
	}
	for _, out := range []string{quiet, verbose} {
		if m := trivyFormat.FindString(out); m != "" {
			t.Errorf("a line in trivy's format: %q\n%s", m, out)
		}
	}
}
