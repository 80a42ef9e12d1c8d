// Package testenv holds what tests share about the machine they run on.
package testenv

import (
	"os"
	"testing"
)

// CannotRun ends a test whose precondition the host does not meet: a skip
// on a developer's machine, a failure in CI (CI is set), where a security
// test that silently does not run would read as a pass.
func CannotRun(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot run in CI: "+format, args...)
	}
	t.Skipf(format, args...)
}
