package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

func TestCacheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", FileName)
	db := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f, err := Open(path, "build-1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode: %v %v", st.Mode(), err)
	}
	if err := f.PutCachedUnits(ctx, checks.IaC, "e", map[string][]byte{"k1": []byte("v1"), "k2": []byte("v2")}, 10); err != nil {
		t.Fatal(err)
	}
	got, err := f.CachedUnits(ctx, []string{"k1", "k3"})
	if err != nil || len(got) != 1 || string(got["k1"]) != "v1" {
		t.Fatalf("units: %v %v", got, err)
	}
	if err := f.PutCommitResult(ctx, "octo/demo", "abc", checks.IaC, "key", []byte("res")); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.CommitResult(ctx, "octo/demo", "abc", checks.IaC, "key"); string(b) != "res" {
		t.Errorf("commit result %q", b)
	}
	if b, _ := f.CommitResult(ctx, "octo/other", "abc", checks.IaC, "key"); b != nil {
		t.Errorf("another repository's commit result: %q", b)
	}
	eng := checks.Engine{Name: "trivy", Version: "0.72.0", DataVersion: "db"}
	if err := f.PutEngine(db, checks.IaC, eng); err != nil {
		t.Fatal(err)
	}
	if err := f.PutHashes(map[string]string{"stat": "oid"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := f.Engines(db); e[checks.IaC] != eng || len(e) != 1 {
		t.Errorf("engines %v", e)
	}
	if e, _ := f.Engines(db.Add(time.Hour)); len(e) != 0 {
		t.Errorf("engines of another DB date: %v", e)
	}
	// Past the bound the units start over.
	if err := f.PutCachedUnits(ctx, checks.IaC, "e", map[string][]byte{"k3": nil, "k4": nil, "k5": nil}, 4); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.CachedUnits(ctx, []string{"k1", "k3"}); len(got) != 1 {
		t.Errorf("after the bound: %v, want k3 only", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The same binary keeps its engines; another forgets them and keeps
	// the content-keyed rest.
	for _, tc := range []struct {
		build   string
		engines int
	}{{"build-1", 1}, {"build-2", 0}} {
		f, err := Open(path, tc.build, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := f.Engines(db); len(e) != tc.engines {
			t.Errorf("%s: %d engines, want %d", tc.build, len(e), tc.engines)
		}
		if h, _ := f.LookupHashes([]string{"stat"}); h["stat"] != "oid" {
			t.Errorf("%s: hashes %v", tc.build, h)
		}
		f.Close()
	}
}

// A second process waits for the first, then says what holds it.
func TestCacheFileBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	f, err := Open(path, "b", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Open(path, "b", 50*time.Millisecond); err == nil {
		t.Fatal("a second open of a held cache succeeded")
	}
}
