// Package cache is the finding cache of `gatehouse scan`: a bbolt file in
// the data dir holding what the server keeps in its database (checks/verdict
// Cache: unit results by content, whole results per commit), the engines
// learnt (verdict.EngineStore) and the blob ids of the working directory's
// files by their stat data (verdict.Hashes). The keys are the pipeline's,
// the same as the server's, so the CLI and the server agree on what a hit
// means.
//
// bbolt, not SQLite: the CLI needs a single-file key-value store with one
// writer at a time, and bbolt is already linked (trivy's DB is one).
package cache

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// FileName is the cache's file in the data dir.
const FileName = "scan-cache.db"

var (
	bucketUnits   = []byte("units")
	bucketCommits = []byte("commits")
	bucketEngines = []byte("engines")
	bucketHashes  = []byte("hashes")
	bucketMeta    = []byte("meta")
	keyBuild      = []byte("build")
)

// maxHashes bounds the stat cache; past it the bucket starts over.
const maxHashes = 1_000_000

// File is an open cache file.
type File struct {
	db *bolt.DB
}

var (
	_ verdict.Cache       = (*File)(nil)
	_ verdict.EngineStore = (*File)(nil)
	_ verdict.Hashes      = (*File)(nil)
)

// Open opens (or creates, 0600) the cache file at path. build identifies
// the running binary: the engines learnt by another binary are forgotten
// (its engines may differ), the units are kept (they are keyed by engine).
// A second process waits up to timeout for the first to close it.
func Open(path, build string, timeout time.Duration) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("scan cache: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("scan cache %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if string(meta.Get(keyBuild)) != build {
			if err := tx.DeleteBucket(bucketEngines); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
			if err := meta.Put(keyBuild, []byte(build)); err != nil {
				return err
			}
		}
		for _, b := range [][]byte{bucketUnits, bucketCommits, bucketEngines, bucketHashes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("scan cache %s: %w", path, err)
	}
	return &File{db: db}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.db.Close() }

// BuildID identifies the running binary by its path, size and
// modification time: a rebuilt or upgraded binary is another build.
func BuildID(version string) string {
	exe, err := os.Executable()
	if err != nil {
		return version
	}
	st, err := os.Stat(exe)
	if err != nil {
		return version
	}
	return fmt.Sprintf("%s %s %d %d", version, exe, st.Size(), st.ModTime().UnixNano())
}

// CachedUnits returns the results held for keys.
func (f *File) CachedUnits(_ context.Context, keys []string) (map[string][]byte, error) {
	return getMany(f.db, bucketUnits, keys, func(v []byte) []byte { return append([]byte(nil), v...) })
}

// PutCachedUnits stores unit results. Past maxRows units the bucket starts
// over: a simple bound for a local cache, which refills on the next scan.
func (f *File) PutCachedUnits(_ context.Context, _, _ string, units map[string][]byte, maxRows int) error {
	return putMany(f.db, bucketUnits, units, maxRows, func(v []byte) []byte { return v })
}

// getMany reads keys from bucket; conv copies each value out of the
// transaction (bbolt's values are valid only inside it).
func getMany[V any](db *bolt.DB, bucket []byte, keys []string, conv func([]byte) V) (map[string]V, error) {
	out := map[string]V{}
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range keys {
			if v := b.Get([]byte(k)); v != nil {
				out[k] = conv(v)
			}
		}
		return nil
	})
	return out, err
}

// putMany writes kv into bucket. When the bucket would pass maxRows keys
// (0: no bound) it is emptied first.
func putMany[V any](db *bolt.DB, bucket []byte, kv map[string]V, maxRows int, conv func(V) []byte) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if maxRows > 0 && b.Stats().KeyN+len(kv) > maxRows {
			if err := tx.DeleteBucket(bucket); err != nil {
				return err
			}
			var err error
			if b, err = tx.CreateBucket(bucket); err != nil {
				return err
			}
		}
		for k, v := range kv {
			if err := b.Put([]byte(k), conv(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

func commitKey(repo, sha, check, key string) []byte {
	return []byte(repo + "\x00" + sha + "\x00" + check + "\x00" + key)
}

// CommitResult returns a commit's whole result of a check, or nil.
func (f *File) CommitResult(_ context.Context, repo, sha, check, key string) ([]byte, error) {
	var out []byte
	err := f.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCommits).Get(commitKey(repo, sha, check, key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// PutCommitResult stores a commit's whole result of a check.
func (f *File) PutCommitResult(_ context.Context, repo, sha, check, key string, result []byte) error {
	return f.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCommits).Put(commitKey(repo, sha, check, key), result)
	})
}

func engineKey(db time.Time, check string) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(db.UnixNano()))
	return append(k, check...)
}

// Engines returns the engines learnt under the DB date db.
func (f *File) Engines(db time.Time) (map[string]checks.Engine, error) {
	out := map[string]checks.Engine{}
	prefix := engineKey(db, "")
	err := f.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEngines).Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) > len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var e checks.Engine
			if json.Unmarshal(v, &e) == nil {
				out[string(k[len(prefix):])] = e
			}
		}
		return nil
	})
	return out, err
}

// PutEngine records the engine a check ran with under the DB date db.
func (f *File) PutEngine(db time.Time, check string, e checks.Engine) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return f.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEngines).Put(engineKey(db, check), v)
	})
}

// LookupHashes returns the blob ids remembered for stat keys.
func (f *File) LookupHashes(keys []string) (map[string]string, error) {
	return getMany(f.db, bucketHashes, keys, func(v []byte) string { return string(v) })
}

// PutHashes remembers blob ids by stat key.
func (f *File) PutHashes(ids map[string]string) error {
	return putMany(f.db, bucketHashes, ids, maxHashes, func(v string) []byte { return []byte(v) })
}
