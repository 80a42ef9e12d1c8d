package deps

import (
	"errors"
	"fmt"
	xos "github.com/aquasecurity/trivy/pkg/x/os"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	tdb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	trivydb "github.com/aquasecurity/trivy/pkg/db"
)

// ErrNoDB is returned by Scanner.Run when the vulnerability database is not
// installed. Callers show its message to the user.
var ErrNoDB = errors.New("no vulnerability database is installed: get one with `gatehouse db update`, or `gatehouse db import FILE` on a host without network")

// ErrDBInUse is returned by New when another open Scanner of this process
// uses a different DB directory: trivy keeps one DB per process.
var ErrDBInUse = errors.New("another open Scanner uses a different vulnerability database directory")

// sharedDB is the one place gatehouse touches trivy's process-global DB:
// trivy-db's pkg/db keeps a single bolt handle that db.Init sets and db.Close
// clears, and every lookup (pkg/detector/library, pkg/vulnerability) reads
// it. Scanners share it: each scan holds mu for reading, (re)opening and
// closing hold it for writing, so a reload never pulls the DB out from under
// a running scan.
type sharedDB struct {
	mu   sync.RWMutex
	dir  string // directory the open Scanners use; "" when none
	refs int    // open Scanners
	open bool   // trivy's global handle is open on dir
	meta metadata.Metadata
}

// theDB is package-level because trivy's handle is: there is exactly one.
var theDB sharedDB

// acquire registers a Scanner using dir and opens the DB if it is present.
// A missing or broken DB is not an error here: Run reports it.
func (d *sharedDB) acquire(dir string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs > 0 && d.dir != dir {
		return fmt.Errorf("%w: %s is open, %s was asked for", ErrDBInUse, d.dir, dir)
	}
	d.refs++
	d.dir = dir
	if !d.open {
		// Run retries and reports the reason; a broken DB is worth a warning
		// now, a missing one is the normal state before `gatehouse db update`.
		if err := d.openLocked(); err != nil && !errors.Is(err, ErrNoDB) {
			slog.Warn("vulnerability database cannot be opened", "dir", dir, "err", err)
		}
	}
	return nil
}

// release unregisters a Scanner and closes the DB after the last one.
func (d *sharedDB) release() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refs--
	if d.refs > 0 {
		return nil
	}
	d.dir = ""
	return d.closeLocked()
}

// read returns with mu held for reading and the DB open, opening it first
// when a DB was installed since; the caller must call the returned unlock.
func (d *sharedDB) read() (metadata.Metadata, func(), error) {
	d.mu.RLock()
	if d.open {
		return d.meta, d.mu.RUnlock, nil
	}
	d.mu.RUnlock()

	d.mu.Lock()
	if !d.open {
		if err := d.openLocked(); err != nil {
			d.mu.Unlock()
			return metadata.Metadata{}, nil, err
		}
	}
	d.mu.Unlock()
	// Another goroutine may close it between Unlock and RLock (a failed
	// Reload, the last Close); check again rather than loop.
	d.mu.RLock()
	if !d.open {
		d.mu.RUnlock()
		return metadata.Metadata{}, nil, fmt.Errorf("%w (closed while opening)", ErrNoDB)
	}
	return d.meta, d.mu.RUnlock, nil
}

// metadata returns the open DB's metadata, if one is open.
func (d *sharedDB) metadata() (metadata.Metadata, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.meta, d.open
}

// reload closes the DB and opens what is now installed in dir. When the
// installed DB cannot be used, the open one stays open and the error says
// why.
func (d *sharedDB) reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs == 0 {
		return errors.New("reload: no open Scanner")
	}
	if _, err := checkInstalled(d.dir); err != nil {
		if d.open {
			return fmt.Errorf("reload %s: keeping the open database: %w", d.dir, err)
		}
		return err
	}
	if err := d.closeLocked(); err != nil {
		return fmt.Errorf("reload %s: %w", d.dir, err)
	}
	return d.openLocked()
}

func (d *sharedDB) openLocked() error {
	meta, err := checkInstalled(d.dir)
	if err != nil {
		return err
	}
	// trivy's Init opens read-only; it also MkdirAll's the directory,
	// which checkInstalled has shown to exist.
	if err := trivydb.Init(d.dir); err != nil {
		return fmt.Errorf("open vulnerability database %s: %w", d.dir, err)
	}
	d.open = true
	d.meta = meta
	return nil
}

func (d *sharedDB) closeLocked() error {
	if !d.open {
		return nil
	}
	d.open = false
	d.meta = metadata.Metadata{}
	if err := trivydb.Close(); err != nil {
		return fmt.Errorf("close vulnerability database: %w", err)
	}
	return nil
}

// checkInstalled reports whether dir holds a usable DB: trivy.db and a
// metadata.json of the schema version this trivy reads. Both files missing is
// ErrNoDB; anything else wrong is a plain error saying what.
func checkInstalled(dir string) (metadata.Metadata, error) {
	dbInfo, dbErr := os.Stat(tdb.Path(dir))
	_, metaErr := os.Stat(metadata.Path(dir))
	switch {
	case errors.Is(dbErr, fs.ErrNotExist) || errors.Is(metaErr, fs.ErrNotExist):
		return metadata.Metadata{}, fmt.Errorf("%w (no %s in %s)", ErrNoDB, missingName(dbErr), dir)
	case dbErr != nil:
		return metadata.Metadata{}, fmt.Errorf("vulnerability database: %w", dbErr)
	case metaErr != nil:
		return metadata.Metadata{}, fmt.Errorf("vulnerability database metadata: %w", metaErr)
	case !dbInfo.Mode().IsRegular():
		return metadata.Metadata{}, fmt.Errorf("vulnerability database %s is not a regular file", tdb.Path(dir))
	}
	meta, err := metadata.NewClient(dir).Get()
	if err != nil {
		return metadata.Metadata{}, fmt.Errorf("read vulnerability database metadata in %s: %w", dir, err)
	}
	if meta.Version != tdb.SchemaVersion {
		return metadata.Metadata{}, fmt.Errorf("vulnerability database in %s has schema version %d, this gatehouse reads %d: run gatehouse db update",
			dir, meta.Version, tdb.SchemaVersion)
	}
	return meta, nil
}

func missingName(dbErr error) string {
	if errors.Is(dbErr, fs.ErrNotExist) {
		return filepath.Base(tdb.Path("."))
	}
	return filepath.Base(metadata.Path("."))
}

// CleanupTemp removes the per-process temporary directory trivy creates
// (/tmp/trivy-*) on first use. Call it once, as the process exits: trivy
// cannot make a new one, so no scan may run after it.
func CleanupTemp() error {
	return xos.Cleanup()
}
