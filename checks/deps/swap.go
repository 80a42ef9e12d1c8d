package deps

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// errNoExchange means the platform or file system cannot exchange two
// directories atomically.
var errNoExchange = errors.New("atomic exchange not supported")

// swapDir puts the directory tmp in place of dst. When dst does not exist
// yet this is one rename. Otherwise the two are exchanged atomically where
// the file system can (Linux renameat2 RENAME_EXCHANGE), and the old
// database, now at tmp, is for the caller to remove; elsewhere dst is first
// renamed aside, which leaves a moment without a database (a Scanner that
// looks then reports ErrNoDB, never a half-written file).
func swapDir(tmp, dst string) error {
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(tmp, dst)
	}
	err := exchange(tmp, dst)
	if err == nil || !errors.Is(err, errNoExchange) {
		return err
	}
	aside := tmp + ".old"
	if err := os.Rename(dst, aside); err != nil {
		return fmt.Errorf("move old database aside: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		if rerr := os.Rename(aside, dst); rerr != nil {
			return fmt.Errorf("install new database: %w (and restoring the old one: %v)", err, rerr)
		}
		return fmt.Errorf("install new database: %w", err)
	}
	// The caller removes tmp; the old database now lives at aside.
	return os.Rename(aside, tmp)
}
