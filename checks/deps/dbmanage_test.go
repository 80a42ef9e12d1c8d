package deps

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
)

// importFixture installs the fixture DB into dbDir through ImportDB, from a
// db.tar.gz as `gatehouse db import` would.
func importFixture(t testing.TB, dbDir string) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "db.tar.gz")
	depstest.BuildDBArchive(t, archive)
	if err := ImportDB(context.Background(), dbDir, archive); err != nil {
		t.Fatalf("ImportDB: %v", err)
	}
}

// variantDB builds the fixture DB in a new directory, lets edit change it
// and dates its metadata updatedAt.
func variantDB(t *testing.T, updatedAt time.Time, edit func(tx *bolt.Tx) error) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "variant")
	depstest.BuildDB(t, dir)
	if edit != nil {
		b, err := bolt.Open(filepath.Join(dir, "trivy.db"), 0o644, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Update(edit); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writeMeta(t, dir, map[string]any{"Version": 2, "UpdatedAt": updatedAt, "NextUpdate": updatedAt.Add(24 * time.Hour)})
	return dir
}

func writeMeta(t *testing.T, dir string, meta map[string]any) {
	t.Helper()
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileHash(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestImportDBAndStatus(t *testing.T) {
	dbDir := filepath.Join(t.TempDir(), "trivy", "db")
	if info, err := DBStatus(dbDir); err != nil || info.Present {
		t.Fatalf("DBStatus before import = %+v, %v; want not present", info, err)
	}
	before := time.Now().Add(-time.Second)
	importFixture(t, dbDir)

	info, err := DBStatus(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dbDir, "trivy.db"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if !info.Present || info.Version != 2 || !info.UpdatedAt.Equal(want) ||
		!info.NextUpdate.Equal(want.Add(24*time.Hour)) || info.Size != st.Size() {
		t.Errorf("DBStatus = %+v", info)
	}
	if info.DownloadedAt.Before(before) {
		t.Errorf("DownloadedAt = %v, want the time of the import", info.DownloadedAt)
	}
	// Importing from a directory works too and replaces the first.
	later := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := ImportDB(context.Background(), dbDir, variantDB(t, later, nil)); err != nil {
		t.Fatal(err)
	}
	if info, _ := DBStatus(dbDir); !info.UpdatedAt.Equal(later) {
		t.Errorf("after second import UpdatedAt = %v, want %v", info.UpdatedAt, later)
	}
	assertNoTempDirs(t, filepath.Dir(dbDir))
}

// TestImportSwapWhileOpen swaps a different DB under an open Scanner: scans
// keep using the old one until Reload, then see the new one.
func TestImportSwapWhileOpen(t *testing.T) {
	dbDir := filepath.Join(t.TempDir(), "db")
	importFixture(t, dbDir)
	s := openScanner(t, dbDir)
	if got := len(run(t, s, checks.Target{Dir: depsRepo}).Findings); got != len(fixtureFindings) {
		t.Fatalf("%d findings before the swap", got)
	}

	later := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	withoutPip := variantDB(t, later, func(tx *bolt.Tx) error {
		return tx.DeleteBucket([]byte("pip::GitHub Security Advisory pip"))
	})
	if err := ImportDB(context.Background(), dbDir, withoutPip); err != nil {
		t.Fatal(err)
	}

	res := run(t, s, checks.Target{Dir: depsRepo})
	if len(res.Findings) != len(fixtureFindings) || res.Engine.DataVersion != "v2@2030-01-01T00:00:00Z" {
		t.Errorf("before Reload: %d findings, data %s; want the old DB still in use", len(res.Findings), res.Engine.DataVersion)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	res = run(t, s, checks.Target{Dir: depsRepo})
	for _, f := range res.Findings {
		if f.File == "requirements.txt" {
			t.Errorf("after Reload: %s still found in the new DB", f.RuleID)
		}
	}
	if len(res.Findings) != len(fixtureFindings)-2 {
		t.Errorf("after Reload: %d findings, want %d", len(res.Findings), len(fixtureFindings)-2)
	}
	if dv := s.Engine().DataVersion; dv != "v2@2031-01-01T00:00:00Z" {
		t.Errorf("after Reload DataVersion = %q", dv)
	}
}

// TestImportRejectsBroken checks that a corrupt or partial import fails
// and leaves the installed DB, and an open Scanner, untouched.
func TestImportRejectsBroken(t *testing.T) {
	dbDir := filepath.Join(t.TempDir(), "db")
	importFixture(t, dbDir)
	s := openScanner(t, dbDir)
	statusBefore, err := DBStatus(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	hashBefore := fileHash(t, filepath.Join(dbDir, "trivy.db"))

	tests := []struct {
		name string
		src  func(t *testing.T) string
		want string
	}{
		{"truncated trivy.db", func(t *testing.T) string {
			dir := variantDB(t, time.Now(), nil)
			p := filepath.Join(dir, "trivy.db")
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, b[:len(b)/4], 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "truncated"},
		{"garbage trivy.db", func(t *testing.T) string {
			dir := variantDB(t, time.Now(), nil)
			if err := os.WriteFile(filepath.Join(dir, "trivy.db"), []byte(strings.Repeat("not bolt", 4096)), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "trivy.db"},
		{"old schema", func(t *testing.T) string {
			dir := variantDB(t, time.Now(), nil)
			writeMeta(t, dir, map[string]any{"Version": 1, "UpdatedAt": time.Now()})
			return dir
		}, "schema version 1"},
		{"broken metadata", func(t *testing.T) string {
			dir := variantDB(t, time.Now(), nil)
			if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "metadata"},
		{"archive cut short", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "db.tar.gz")
			depstest.BuildDBArchive(t, p)
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "archive"},
		{"not an archive", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "db.tar.gz")
			if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "gzip"},
		{"archive without metadata", func(t *testing.T) string {
			dir := variantDB(t, time.Now(), nil)
			p := filepath.Join(t.TempDir(), "db.tar.gz")
			writeTarGz(t, p, map[string]string{"trivy.db": filepath.Join(dir, "trivy.db")})
			return p
		}, "no metadata.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ImportDB(context.Background(), dbDir, tt.src(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ImportDB = %v, want an error about %q", err, tt.want)
			}
			after, err := DBStatus(dbDir)
			if err != nil || after != statusBefore {
				t.Errorf("DBStatus after a failed import = %+v, %v; want %+v", after, err, statusBefore)
			}
			if fileHash(t, filepath.Join(dbDir, "trivy.db")) != hashBefore {
				t.Error("trivy.db changed")
			}
			assertNoTempDirs(t, filepath.Dir(dbDir))
			if err := s.Reload(); err != nil {
				t.Errorf("Reload of the intact DB: %v", err)
			}
			if got := len(run(t, s, checks.Target{Dir: depsRepo}).Findings); got != len(fixtureFindings) {
				t.Errorf("%d findings after a failed import", got)
			}
		})
	}
}

// TestReloadKeepsOpenDB removes the installed DB under an open Scanner:
// Reload fails and the open DB stays in use.
func TestReloadKeepsOpenDB(t *testing.T) {
	dbDir := filepath.Join(t.TempDir(), "db")
	importFixture(t, dbDir)
	s := openScanner(t, dbDir)
	if err := os.Rename(dbDir, dbDir+".gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("Reload with no DB installed: no error")
	}
	if got := len(run(t, s, checks.Target{Dir: depsRepo}).Findings); got != len(fixtureFindings) {
		t.Errorf("%d findings after a failed Reload", got)
	}
}

func TestParseRepositories(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{in: "ghcr.io/aquasecurity/trivy-db", want: "ghcr.io/aquasecurity/trivy-db:2"},
		{in: "registry.example.com:5000/mirror/trivy-db:3", want: "registry.example.com:5000/mirror/trivy-db:3"},
		{in: "a.example/db, b.example/db:2", want: "a.example/db:2,b.example/db:2"},
		{in: "a.example/db@sha256:" + strings.Repeat("a", 64), want: "a.example/db@sha256:" + strings.Repeat("a", 64)},
		{in: " , ", err: true},
		{in: "UPPER/Case", err: true},
	}
	for _, tt := range tests {
		refs, err := parseRepositories(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("parseRepositories(%q): no error", tt.in)
			}
			continue
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.String())
		}
		if err != nil || strings.Join(got, ",") != tt.want {
			t.Errorf("parseRepositories(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func assertNoTempDirs(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary directory left behind: %s", e.Name())
		}
	}
}

// writeTarGz writes the files (archive name -> source path) to dst.
func writeTarGz(t *testing.T, dst string, files map[string]string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestImportLayoutsUsersMake: a tarball of a directory holding the DB
// (db-export/vulndb/), trivy's cache directory (db/trivy.db), and a bare
// trivy.db with metadata.json beside it all import.
func TestImportLayoutsUsersMake(t *testing.T) {
	src := filepath.Join(t.TempDir(), "vulndb")
	depstest.BuildDB(t, src)
	files := func(prefix string) map[string]string {
		return map[string]string{prefix + "trivy.db": filepath.Join(src, "trivy.db"), prefix + "metadata.json": filepath.Join(src, "metadata.json")}
	}
	nested := filepath.Join(t.TempDir(), "export.tar.gz")
	writeTarGz(t, nested, files("db-export/vulndb/"))
	cache := filepath.Join(t.TempDir(), "cache")
	if err := os.CopyFS(filepath.Join(cache, "db"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string]string{
		"tarball of db-export/vulndb": nested,
		"trivy's cache directory":     cache,
		"bare trivy.db":               filepath.Join(src, "trivy.db"),
	} {
		dbDir := filepath.Join(t.TempDir(), "db")
		if err := ImportDB(context.Background(), dbDir, from); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info, err := DBStatus(dbDir); err != nil || !info.Present {
			t.Errorf("%s: status %+v, %v", name, info, err)
		}
	}
	// Two candidate directories in one archive are refused, not guessed.
	two := filepath.Join(t.TempDir(), "two.tar.gz")
	writeTarGz(t, two, map[string]string{"a/trivy.db": filepath.Join(src, "trivy.db"), "b/metadata.json": filepath.Join(src, "metadata.json")})
	if err := ImportDB(context.Background(), filepath.Join(t.TempDir(), "db"), two); err == nil || !strings.Contains(err.Error(), "two directories") {
		t.Errorf("files in two directories: %v", err)
	}
}
