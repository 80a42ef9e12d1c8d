package store_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// TestSQLiteFilesAreOwnerOnly: the database, its WAL and its shared-memory
// file are 0600, whatever the umask, and an older store's 0644 files are
// narrowed when it is opened.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	cfg := storetest.Config(t, store.DriverSQLite)
	files := []string{store.SQLiteFile, store.SQLiteFile + "-wal", store.SQLiteFile + "-shm"}
	check := func(when string) {
		t.Helper()
		for _, name := range files {
			info, err := os.Stat(filepath.Join(cfg.DataDir, name))
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s: %s is %v, want -rw-------", when, name, mode)
			}
		}
	}
	// Opening migrates the schema: the WAL and shared-memory files exist.
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("new store")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, name := range files {
		if err := os.Chmod(filepath.Join(cfg.DataDir, name), 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	s, err = store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.JobCountsByState(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("reopened store")
}
