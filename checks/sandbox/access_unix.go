//go:build unix

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkAccess reports whether the sandbox user uid:gid (who has no
// supplementary groups) can reach path, through search permission on
// every directory above it, and read it (and, for a directory, list it).
// The child runs as that user: what it cannot reach it cannot scan, and
// saying so here beats an obscure "permission denied" from an engine.
func checkAccess(path string, uid, gid int) error {
	want := uint32(4)
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		want = 5
	}
	return reach(path, uid, gid, want)
}

// checkSearch reports whether uid:gid can pass through the directory path
// (search permission on it and every directory above it).
func checkSearch(path string, uid, gid int) error { return reach(path, uid, gid, 1) }

// reach checks search permission on every directory above path and the
// permission bits want on path itself.
func reach(path string, uid, gid int, want uint32) error {
	if uid == 0 {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	var chain []string
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		chain = append([]string{p}, chain...)
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, dir := range chain {
		if err := permits(dir, uid, gid, 1); err != nil {
			return err
		}
	}
	return permits(abs, uid, gid, want)
}

// permits checks the classic permission bits (4 read, 2 write, 1 search)
// of path for uid:gid.
func permits(path string, uid, gid int, want uint32) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	bits := uint32(st.Mode) & 0o7
	switch {
	case int(st.Uid) == uid:
		bits = uint32(st.Mode) >> 6 & 0o7
	case int(st.Gid) == gid:
		bits = uint32(st.Mode) >> 3 & 0o7
	}
	if bits&want != want {
		return fmt.Errorf("%s (mode %04o, owner %d:%d) is not %s by the sandbox user %d:%d",
			path, st.Mode&0o7777, st.Uid, st.Gid, wantWords(want), uid, gid)
	}
	return nil
}

func wantWords(want uint32) string {
	switch want {
	case 1:
		return "searchable"
	case 4:
		return "readable"
	}
	return "readable and searchable"
}
