package checks

import (
	"fmt"
	"testing"
)

// BenchmarkFingerprint is the per-finding cost of fingerprinting (every
// finding of every scan).
func BenchmarkFingerprint(b *testing.B) {
	content := NormalizeContent("resource \"aws_s3_bucket\" \"b\" {\n  acl = \"public-read\"\n}\n")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = Fingerprint(IaC, "AVD-AWS-0092", fmt.Sprintf("modules/m%d/main.tf", i%64), content)
	}
}

// BenchmarkNormalizeContent is the content key's normalization.
func BenchmarkNormalizeContent(b *testing.B) {
	s := "  a = 1\n\n    b = 2   \n\tc = 3\n"
	for b.Loop() {
		_ = NormalizeContent(s)
	}
}
