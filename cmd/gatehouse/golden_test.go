package main

import (
	"testing"

	goldenfile "github.com/gatehouse/gatehouse/internal/golden"
)

// golden compares got with testdata/golden/<name>, or rewrites it with
// -update (go test ./cmd/gatehouse -update).
func golden(t *testing.T, name, got string) { goldenfile.Check(t, name, []byte(got)) }
