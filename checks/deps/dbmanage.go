package deps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	bolt "go.etcd.io/bbolt"

	tdb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	trivydb "github.com/aquasecurity/trivy/pkg/db"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
)

// DBInfo describes the vulnerability database installed in a directory.
type DBInfo struct {
	Dir     string `json:"dir"`
	Present bool   `json:"present"`
	// Version is trivy-db's schema version (2).
	Version int `json:"version,omitempty"`
	// UpdatedAt is when the database was built upstream; NextUpdate when
	// upstream plans the next build; DownloadedAt when this copy was
	// downloaded or imported.
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	NextUpdate   time.Time `json:"next_update,omitzero"`
	DownloadedAt time.Time `json:"downloaded_at,omitzero"`
	// Size is the size of trivy.db in bytes.
	Size int64 `json:"size,omitempty"`
}

// DBStatus describes what is installed in dbDir. A directory without a
// database is not an error (Present is false); a broken one is.
func DBStatus(dbDir string) (DBInfo, error) {
	info := DBInfo{Dir: dbDir}
	meta, err := checkInstalled(dbDir)
	switch {
	case errors.Is(err, ErrNoDB):
		return info, nil
	case err != nil:
		return info, err
	}
	st, err := os.Stat(tdb.Path(dbDir))
	if err != nil {
		return info, fmt.Errorf("vulnerability database: %w", err)
	}
	info.Present = true
	info.Version = meta.Version
	info.UpdatedAt = meta.UpdatedAt
	info.NextUpdate = meta.NextUpdate
	info.DownloadedAt = meta.DownloadedAt
	info.Size = st.Size()
	return info, nil
}

// UpdateDB downloads the vulnerability database with trivy's download code
// from repository (an OCI reference; several may be given separated by
// commas, tried in order; empty means trivy's defaults, mirror.gcr.io then
// ghcr.io) and installs it in dbDir. A reference without a tag gets the
// schema version as tag, as trivy does. Open Scanners keep the old database
// until they Reload.
func UpdateDB(ctx context.Context, dbDir, repository string) error {
	var opts []trivydb.Option
	if strings.TrimSpace(repository) != "" {
		refs, err := parseRepositories(repository)
		if err != nil {
			return err
		}
		opts = append(opts, trivydb.WithDBRepository(refs))
	}
	return install(dbDir, func(tmp string) error {
		client := trivydb.NewClient(tmp, true, opts...)
		if err := client.Download(ctx, tmp, ftypes.RegistryOptions{}); err != nil {
			if unreachable(err) {
				return fmt.Errorf("download vulnerability database: the registry cannot be reached from this host (offline?): %s; "+
					"on a host without network, copy a DB made elsewhere (db.tar.gz, or a directory with trivy.db and metadata.json) "+
					"and run `gatehouse db import FILE`", rootCause(err))
			}
			return fmt.Errorf("download vulnerability database: %w", err)
		}
		return nil
	})
}

// ImportDB installs the database in src into dbDir, for servers without
// network access. src is a db.tar.gz (the trivy DB's OCI layer: trivy.db and
// metadata.json) or a directory holding those two files. DownloadedAt is set
// to the time of the import. A database that fails validation leaves the
// installed one untouched.
func ImportDB(ctx context.Context, dbDir, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("import vulnerability database: %w", err)
	}
	return install(dbDir, func(tmp string) error {
		var err error
		switch {
		case st.IsDir():
			err = copyDBFiles(ctx, src, tmp)
		case filepath.Base(src) == "trivy.db" || filepath.Base(src) == "metadata.json":
			// A bare trivy.db: metadata.json is beside it.
			err = copyDBFiles(ctx, filepath.Dir(src), tmp)
		default:
			err = extractDBArchive(ctx, src, tmp)
		}
		if err != nil {
			return fmt.Errorf("import vulnerability database from %s: %w", src, err)
		}
		mc := metadata.NewClient(tmp)
		meta, err := mc.Get()
		if err != nil {
			return fmt.Errorf("import vulnerability database from %s: metadata.json: %w", src, err)
		}
		meta.DownloadedAt = time.Now().UTC()
		if err := mc.Update(meta); err != nil {
			return fmt.Errorf("import vulnerability database: %w", err)
		}
		return nil
	})
}

// install fills a temporary directory next to dbDir with fill, validates the
// result and swaps it into place, so dbDir holds either the old or the new
// database at every instant.
func install(dbDir string, fill func(tmp string) error) (err error) {
	dbDir = filepath.Clean(dbDir)
	parent := filepath.Dir(dbDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("install vulnerability database: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dbDir)+".tmp-")
	if err != nil {
		return fmt.Errorf("install vulnerability database: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(tmp); rmErr != nil && err == nil {
			slog.Warn("remove temporary vulnerability database", "dir", tmp, "err", rmErr)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("install vulnerability database: %w", err)
	}
	if err := fill(tmp); err != nil {
		return err
	}
	// The sandboxed scanner (an unprivileged user) opens the DB read-only:
	// whatever modes the download or archive carried, make it readable.
	for _, name := range []string{"trivy.db", "metadata.json"} {
		if err := os.Chmod(filepath.Join(tmp, name), 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("install vulnerability database: %w", err)
		}
	}
	meta, err := validateDB(tmp)
	if err != nil {
		return fmt.Errorf("install vulnerability database: %w", err)
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("install vulnerability database: %w", err)
	}
	if err := swapDir(tmp, dbDir); err != nil {
		return fmt.Errorf("install vulnerability database in %s: %w", dbDir, err)
	}
	slog.Info("vulnerability database installed", "dir", dbDir,
		"version", meta.Version, "updated_at", meta.UpdatedAt)
	return nil
}

// validateDB checks a freshly written database before it is installed: a
// readable metadata.json of the right schema version, and a trivy.db that
// bolt opens, is not truncated and has buckets.
func validateDB(dir string) (metadata.Metadata, error) {
	meta, err := checkInstalled(dir)
	if err != nil {
		return meta, err
	}
	if meta.UpdatedAt.IsZero() {
		return meta, errors.New("metadata.json has no UpdatedAt")
	}
	if err := checkBolt(tdb.Path(dir)); err != nil {
		return meta, fmt.Errorf("trivy.db: %w", err)
	}
	return meta, nil
}

// checkBolt opens a bolt file read-only and checks that the pages its meta
// page claims are all in the file, and that it has at least one bucket. A
// fault while reading the mapped file becomes an error.
func checkBolt(p string) (err error) {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt: %v", r)
		}
	}()
	b, err := bolt.Open(p, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer b.Close()
	return b.View(func(tx *bolt.Tx) error {
		if tx.Size() > st.Size() {
			return fmt.Errorf("truncated: %d bytes, its pages need %d", st.Size(), tx.Size())
		}
		buckets := 0
		if err := tx.ForEach(func([]byte, *bolt.Bucket) error { buckets++; return nil }); err != nil {
			return err
		}
		if buckets == 0 {
			return errors.New("no buckets")
		}
		return nil
	})
}

// parseRepositories reads a comma-separated list of OCI references, adding
// the schema version as tag where none is given.
func parseRepositories(s string) ([]name.Reference, error) {
	var refs []name.Reference
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		ref, err := name.ParseReference(r, name.WithDefaultTag(""))
		if err != nil {
			return nil, fmt.Errorf("vulnerability database repository %q: %w", r, err)
		}
		if t, ok := ref.(name.Tag); ok && t.TagStr() == "" {
			ref = t.Tag(strconv.Itoa(tdb.SchemaVersion))
		}
		refs = append(refs, ref)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("vulnerability database repository %q names no repository", s)
	}
	return refs, nil
}

// syncDir flushes a directory's files and entries to disk before it is
// swapped in.
func syncDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := syncPath(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return syncPath(dir)
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// unreachable reports a network failure: no name resolution, no route, a
// refused or timed-out connection.
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || errors.As(err, &op) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"no such host", "dial tcp", "network is unreachable", "connection refused", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// rootCause is the innermost error's text, without the layers of context
// the OCI client wraps around it.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
