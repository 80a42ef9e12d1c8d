package iac

import "testing"

func BenchmarkCompileChecks(b *testing.B) {
	for b.Loop() {
		if _, err := compileChecks(); err != nil {
			b.Fatal(err)
		}
	}
}
