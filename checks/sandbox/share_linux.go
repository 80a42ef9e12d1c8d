//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The child must not depend on the host's directory modes: a root parent
// with its data directory under a 0700 home (/root) would otherwise leave
// the sandbox user unable to reach the vulnerability DB or a checkout. So,
// when the child gets its own user and mount namespaces, the parent hands
// it detached, read-only copies of the two mounts it needs (open_tree),
// and the child's init moves them into its own mount namespace
// (move_mount) before it drops its capabilities. Nothing else of the
// parent's tree becomes reachable, and the mounts vanish with the child.

// mountsEnv carries "fd:target,fd:target" from the parent to the child's
// init: which inherited tree goes where.
const mountsEnv = "GATEHOUSE_SANDBOX_MOUNTS"

// sharesTrees reports whether a child started with v gets the DB and the
// checkouts as mounts rather than through host paths. Only a root parent
// can clone mounts; a non-root parent's child runs as the parent's user,
// who reaches what the parent reaches.
func sharesTrees(v nsVariant, mode Mode) bool {
	const need = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
	return mode != ModeOff && os.Geteuid() == 0 && v.flags&need == need
}

// shareTree returns a detached copy of the mount at dir (dir itself, no
// submounts), read-only, without setuid, devices or execution.
func shareTree(dir string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", dir, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("make the copy of %s read-only: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), "tree:"+dir), nil
}

// mountShared, in the child's init, moves the trees the parent passed to
// their targets (mountsEnv) and closes them.
func mountShared() error {
	spec := os.Getenv(mountsEnv)
	if spec == "" {
		return nil
	}
	for _, m := range strings.Split(spec, ",") {
		fdText, target, ok := strings.Cut(m, ":")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			return fmt.Errorf("%s: bad entry %q", mountsEnv, m)
		}
		if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("mount the parent's tree at %s: %w", target, err)
		}
		_ = unix.Close(fd)
	}
	return os.Unsetenv(mountsEnv)
}

// closeInherited marks every descriptor above stderr close-on-exec, so
// that the real child inherits none of what init was given (its own
// binary, the trees).
func closeInherited() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	return nil
}
