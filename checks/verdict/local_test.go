package verdict

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// memHashes is a Hashes in memory that counts what it was asked.
type memHashes struct {
	mu  sync.Mutex
	ids map[string]string
}

func (m *memHashes) LookupHashes(keys []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for _, k := range keys {
		if id, ok := m.ids[k]; ok {
			out[k] = id
		}
	}
	return out, nil
}

func (m *memHashes) PutHashes(ids map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range ids {
		m.ids[k] = v
	}
	return nil
}

// A working directory's blob ids are git's; remembered ids are used only
// while a file's stat data is unchanged, and a file written just now is
// not remembered (it could change again within the clock's granularity).
func TestDirTreeHashesByStat(t *testing.T) {
	dir := t.TempDir()
	write := func(p, c string, age time.Duration) {
		t.Helper()
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		if age > 0 {
			old := time.Now().Add(-age)
			if err := os.Chtimes(full, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("a.txt", "alpha\n", time.Hour)
	write("sub/b.txt", "beta\n", time.Hour)
	write("fresh.txt", "new\n", 0)
	hashes := &memHashes{ids: map[string]string{}}
	ids := func() map[string]string {
		t.Helper()
		// Each scan walks the directory anew.
		files, err := (&DirTree{Dir: dir, Hashes: hashes}).Files(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range files {
			out[f.Path] = f.OID
		}
		return out
	}
	first := ids()
	if first["a.txt"] != blobID([]byte("alpha\n")) || first["sub/b.txt"] != blobID([]byte("beta\n")) {
		t.Fatalf("blob ids %v", first)
	}
	if len(hashes.ids) != 2 {
		t.Errorf("remembered %d ids, want 2 (not the file written just now)", len(hashes.ids))
	}
	// A remembered id is used as long as the stat data matches: poison it
	// to see that it is read, then change the file to see it is not.
	for k := range hashes.ids {
		hashes.ids[k] = "remembered"
	}
	if got := ids(); got["a.txt"] != "remembered" {
		t.Errorf("unchanged file was hashed again: %v", got)
	}
	write("a.txt", "ALPHA!\n", 30*time.Minute)
	if got := ids(); got["a.txt"] != blobID([]byte("ALPHA!\n")) {
		t.Errorf("changed file kept its old id: %v", got["a.txt"])
	}
}

// Checkout hard-links a working directory's files (nothing copied) and
// turns a symlink into a file holding its target.
func TestDirTreeCheckoutLinks(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "co")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f.txt"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	tree := &DirTree{Dir: src}
	files, err := tree.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Checkout(context.Background(), dst, files, false); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(src, "d", "f.txt"))
	b, err := os.Stat(filepath.Join(dst, "d", "f.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Error("file was copied, not linked (same file system)")
	}
	st, err := os.Lstat(filepath.Join(dst, "link"))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("symlink checked out as %v, %v; want a regular file", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "link")); string(b) != "/etc/passwd" {
		t.Errorf("symlink file holds %q", b)
	}
}
