//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// runInit makes the child, when it is process 1 of its PID namespace, the
// namespace's init. It
//
//   - makes its mounts private and mounts a /proc of its own PID namespace
//     (the host's /proc would show host processes, and libpsx, which
//     go-landlock uses to restrict every thread of a cgo binary, finds the
//     threads of a process in /proc/<pid>/task: with the host's /proc it
//     hangs or aborts),
//   - moves in the read-only trees the parent passed (mountShared: the
//     vulnerability DB and the checkouts),
//   - drops every capability, for good (bounding set, securebits locked),
//   - sets no_new_privs and the seccomp filter,
//   - starts the real child (the same binary and arguments) as process 2,
//     which inherits all of that, reaps every orphan (git's, for example)
//     and exits with the real child's status: a real child killed by a
//     signal becomes exit status 128+signal.
//
// When init exits the kernel kills whatever is left in the namespace.
func runInit() (handled bool, err error) {
	if os.Getpid() != 1 {
		return false, nil
	}
	// Capabilities are per thread: drop them on this one and start the
	// real child from it. This goroutine never gives the thread back.
	runtime.LockOSThread()
	if err := mountProc(); err != nil {
		return true, fmt.Errorf("sandbox init: %w", err)
	}
	if err := mountShared(); err != nil {
		return true, fmt.Errorf("sandbox init: %w", err)
	}
	if err := closeInherited(); err != nil {
		return true, fmt.Errorf("sandbox init: %w", err)
	}
	if err := dropCapabilities(); err != nil {
		return true, fmt.Errorf("sandbox init: %w", err)
	}
	if err := installSeccomp(); err != nil {
		return true, fmt.Errorf("sandbox init: %w", err)
	}
	// Through /proc/self/exe, not the binary's path: the sandbox user may
	// not be able to reach that path (a binary under a 0700 home).
	p, err := os.StartProcess("/proc/self/exe", os.Args, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return true, fmt.Errorf("sandbox init: start the child: %w", err)
	}
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return true, fmt.Errorf("sandbox init: wait: %w", err)
		}
		if got != p.Pid {
			continue // an orphan, reaped
		}
		switch {
		case ws.Exited():
			os.Exit(ws.ExitStatus())
		case ws.Signaled():
			os.Exit(128 + int(ws.Signal()))
		}
	}
}

// mountProc keeps the namespace's mounts from propagating to the host and
// mounts a /proc that shows only the namespace's processes.
func mountProc() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// dropCapabilities empties the bounding, ambient, inheritable, permitted
// and effective sets of this thread and locks the securebits so that
// neither uid 0 nor an exec can bring a capability back.
func dropCapabilities() error {
	// linux/securebits.h: NOROOT, NO_SETUID_FIXUP, KEEP_CAPS and
	// NO_CAP_AMBIENT_RAISE, each with its lock bit (x/sys has no names).
	const (
		secNoRoot, secNoRootLocked             = 1 << 0, 1 << 1
		secNoSetuidFixup, secNoSetuidFixupLock = 1 << 2, 1 << 3
		secKeepCapsLocked                      = 1 << 5
		secNoAmbientRaise, secNoAmbientLocked  = 1 << 6, 1 << 7
		secure                                 = secNoRoot | secNoRootLocked | secNoSetuidFixup | secNoSetuidFixupLock |
			secKeepCapsLocked | secNoAmbientRaise | secNoAmbientLocked
	)
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, secure, 0, 0, 0); err != nil {
		return fmt.Errorf("set securebits: %w", err)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	return nil
}
