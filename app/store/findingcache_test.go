package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// Units are found by key; a put under a new engine key drops the check's
// rows of the old one (never the other checks'); past the bound the oldest
// rows go.
func TestFindingCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if m, err := s.CachedUnits(ctx, []string{"a"}); err != nil || len(m) != 0 {
			t.Fatalf("empty cache = %v, %v", m, err)
		}
		if err := s.PutCachedUnits(ctx, "iac", "trivy@1", map[string][]byte{"a": []byte("A"), "b": []byte("B")}, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.PutCachedUnits(ctx, "secrets", "gitleaks@1", map[string][]byte{"s": []byte("S")}, 0); err != nil {
			t.Fatal(err)
		}
		m, err := s.CachedUnits(ctx, []string{"a", "b", "s", "zz"})
		if err != nil || string(m["a"]) != "A" || string(m["b"]) != "B" || string(m["s"]) != "S" || len(m) != 3 {
			t.Fatalf("hits = %q, %v", m, err)
		}
		// A second put of a key keeps the first result.
		if err := s.PutCachedUnits(ctx, "iac", "trivy@1", map[string][]byte{"a": []byte("A2")}, 0); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.CachedUnits(ctx, []string{"a"}); string(m["a"]) != "A" {
			t.Errorf("a = %q", m["a"])
		}
		// A new engine (or DB) version invalidates the check's old rows.
		if err := s.PutCachedUnits(ctx, "iac", "trivy@2", map[string][]byte{"c": []byte("C")}, 0); err != nil {
			t.Fatal(err)
		}
		m, _ = s.CachedUnits(ctx, []string{"a", "b", "c", "s"})
		if len(m) != 2 || m["c"] == nil || m["s"] == nil {
			t.Errorf("after engine change = %q, want c and s", m)
		}
		// Bounded: many keys in batches, the oldest evicted.
		many := map[string][]byte{}
		var keys []string
		for i := range 1200 {
			k := fmt.Sprintf("k%04d", i)
			many[k], keys = []byte("x"), append(keys, k)
		}
		if err := s.PutCachedUnits(ctx, "iac", "trivy@2", many, 1000); err != nil {
			t.Fatal(err)
		}
		m, err = s.CachedUnits(ctx, append(keys, "c", "s"))
		if err != nil || len(m) != 1000 {
			t.Errorf("after bound: %d rows, %v; want 1000", len(m), err)
		}
		if m["c"] != nil || m["s"] != nil {
			t.Error("the oldest rows were kept past the bound")
		}
	})
}
