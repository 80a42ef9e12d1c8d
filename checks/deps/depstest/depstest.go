// Package depstest builds the fixture vulnerability database that the
// dependencies check's tests (and gatehouse's end-to-end tests) scan with,
// from the YAML under testdata/trivydb at the repository root. Nothing is
// ever downloaded.
//
// Layout: BuildDB fills one directory with trivy.db and metadata.json, the
// directory deps.Options.DBDir expects (trivy's "<cache-dir>/db"). To point
// the trivy CLI at it, use its parent as --cache-dir and name it "db".
package depstest

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	fixtures "github.com/aquasecurity/bolt-fixtures"
)

// Dir returns the directory holding the fixture YAML and metadata.json
// (testdata/trivydb at the repository root): found from this source file,
// or, in a -trimpath build, by walking up from the working directory.
func Dir(t testing.TB) string {
	t.Helper()
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		// checks/deps/depstest/depstest.go -> repository root.
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", ".."))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			candidates = append(candidates, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, root := range candidates {
		dir := filepath.Join(root, "testdata", "trivydb")
		if _, err := os.Stat(filepath.Join(dir, "metadata.json")); err == nil {
			return dir
		}
	}
	t.Fatal("depstest: testdata/trivydb not found above the working directory")
	return ""
}

// BuildDB writes the fixture DB into dbDir (created if needed): dbDir/trivy.db
// loaded from the YAML fixtures and dbDir/metadata.json (schema version 2).
func BuildDB(t testing.TB, dbDir string) {
	t.Helper()
	if err := Write(Dir(t), dbDir); err != nil {
		t.Fatalf("depstest: %v", err)
	}
}

// Write builds the DB from the fixture directory src (YAML files and
// metadata.json) into dbDir; BuildDB is its test form, and the benchmark
// commands use it to get a DB without downloading one.
func Write(src, dbDir string) error {
	yamls, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil || len(yamls) == 0 {
		return fmt.Errorf("no fixture YAML in %s (%v)", src, err)
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	loader, err := fixtures.New(filepath.Join(dbDir, "trivy.db"), yamls)
	if err != nil {
		return fmt.Errorf("create trivy.db: %w", err)
	}
	if err := loader.Load(); err != nil {
		_ = loader.Close()
		return fmt.Errorf("load fixtures: %w", err)
	}
	if err := loader.Close(); err != nil {
		return fmt.Errorf("close trivy.db: %w", err)
	}
	// Readable by the sandboxed scanner, as `gatehouse db import` leaves it.
	if err := os.Chmod(filepath.Join(dbDir, "trivy.db"), 0o644); err != nil {
		return err
	}
	meta, err := os.ReadFile(filepath.Join(src, "metadata.json"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dbDir, "metadata.json"), meta, 0o644)
}

// BuildDBArchive builds the fixture DB and writes it to dst as a db.tar.gz
// (trivy.db and metadata.json at the top level, the layout of the trivy DB's
// OCI layer), the input of deps.ImportDB and `gatehouse db import`.
func BuildDBArchive(t testing.TB, dst string) {
	t.Helper()
	dbDir := t.TempDir()
	BuildDB(t, dbDir)
	if err := WriteArchive(dst, dbDir); err != nil {
		t.Fatalf("depstest: %v", err)
	}
}

// WriteArchive writes dbDir's trivy.db and metadata.json to dst as a tar.gz.
func WriteArchive(dst, dbDir string) (err error) {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"trivy.db", "metadata.json"} {
		if err := addFile(tw, dbDir, name); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func addFile(tw *tar.Writer, dir, name string) error {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: info.Size(), ModTime: info.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
