package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// BenchmarkCachedUnits looks up the units of a trivy-sized tree (3,500
// keys, all hits) on SQLite: one lookup per tree scan.
func BenchmarkCachedUnits(b *testing.B) {
	ctx := context.Background()
	s := storetest.Open(b, "sqlite")
	rows := map[string][]byte{}
	var keys []string
	for i := range 3500 {
		k := fmt.Sprintf("%064x", i)
		rows[k], keys = []byte(`{"files":1,"bytes":100}`), append(keys, k)
	}
	if err := s.PutCachedUnits(ctx, "secrets", "gitleaks@v8", rows, 0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		m, err := s.CachedUnits(ctx, keys)
		if err != nil || len(m) != len(keys) {
			b.Fatal(len(m), err)
		}
	}
}
