package templates

import (
	"testing"

	goldenfile "github.com/gatehouse/gatehouse/internal/golden"
)

// golden compares rendered text with testdata/golden/<name>, or rewrites
// the file with -update (go test ./templates -update).
func golden(t *testing.T, name, got string) { goldenfile.Check(t, name, []byte(got)) }
