package deps

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	tdb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
)

// Size caps for imported files: the real trivy.db is about 1 GB.
const (
	maxDBFileSize   = 16 << 30
	maxMetadataSize = 1 << 20
)

// dbFiles are the files a database directory holds, with their size caps.
var dbFiles = map[string]int64{
	filepath.Base(tdb.Path(".")):      maxDBFileSize,
	filepath.Base(metadata.Path(".")): maxMetadataSize,
}

// extractDBArchive writes trivy.db and metadata.json from a tar.gz into dst.
// Other entries are ignored; nothing is written outside dst whatever the
// entry names say.
func extractDBArchive(ctx context.Context, src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	// The files may sit at the root or in one directory (a tarball of
	// db-export/vulndb, of trivy's cache): both must come from the same one.
	found := map[string]bool{}
	from := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		base, dir := path.Base(name), path.Dir(name)
		limit, wanted := dbFiles[base]
		if !wanted || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if len(found) > 0 && dir != from {
			return fmt.Errorf("archive has database files in two directories (%s and %s)", from, dir)
		}
		from = dir
		if hdr.Size > limit {
			return fmt.Errorf("%s is %d bytes, more than the %d-byte limit", base, hdr.Size, limit)
		}
		if err := writeFile(filepath.Join(dst, base), tr, hdr.Size); err != nil {
			return err
		}
		found[base] = true
	}
	for name := range dbFiles {
		if !found[name] {
			return fmt.Errorf("archive has no %s", name)
		}
	}
	return nil
}

// copyDBFiles copies trivy.db and metadata.json from the directory src (or
// its db directory, trivy's cache layout) into dst. Symbolic links are
// refused.
func copyDBFiles(ctx context.Context, src, dst string) error {
	if _, err := os.Lstat(filepath.Join(src, "trivy.db")); err != nil {
		if _, derr := os.Lstat(filepath.Join(src, "db", "trivy.db")); derr == nil {
			src = filepath.Join(src, "db")
		}
	}
	for name, limit := range dbFiles {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(src, name)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		if info.Size() > limit {
			return fmt.Errorf("%s is %d bytes, more than the %d-byte limit", p, info.Size(), limit)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		err = writeFile(filepath.Join(dst, name), in, info.Size())
		in.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes exactly size bytes from r to a new file p.
func writeFile(p string, r io.Reader, size int64) (err error) {
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	n, err := io.Copy(out, io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(p), err)
	}
	if n != size {
		return fmt.Errorf("write %s: %d of %d bytes (truncated)", filepath.Base(p), n, size)
	}
	return nil
}
