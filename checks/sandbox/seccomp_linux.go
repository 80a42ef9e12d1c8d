//go:build linux

package sandbox

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// deniedSyscalls are the system calls a scanner never needs and an
// attacker who took over a parser would want: debugging other processes,
// changing mounts or namespaces, loading kernel code, kernel keyrings,
// io_uring (a large attack surface of its own), clock and swap changes.
// They fail with EPERM, so a library that probes one gets an error, not a
// dead process.
var deniedSyscalls = []string{
	// other processes' memory
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	// leaving the process group the timeout kills
	"setsid", "setpgid",
	// mounts, roots and namespaces
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns",
	// kernel code, BPF, tracing
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie",
	// keyrings
	"keyctl", "add_key", "request_key",
	// the machine itself
	"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog",
	"sethostname", "setdomainname", "vhangup", "iopl", "ioperm", "uselib",
	// io_uring
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	// file handles bypass path checks
	"open_by_handle_at", "name_to_handle_at",
	"fanotify_init",
}

// namespaceCloneFlags are the clone(2) flags that make a new namespace: a
// child process may fork (git) but not leave or nest its namespaces.
const namespaceCloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
	unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP

// seccompPolicy is the filter: the calls above fail with EPERM, clone with
// a namespace flag fails with EPERM, clone3 (whose flags live in memory a
// filter cannot read) fails with ENOSYS so that libc falls back to clone.
func seccompPolicy() seccomp.Policy {
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Names: deniedSyscalls, Action: seccomp.ActionErrno},
			{
				NamesWithCondtions: []seccomp.NameWithConditions{{
					Name: "clone",
					Conditions: seccomp.ArgumentConditions{{
						Argument: 0, Operation: seccomp.BitsSet, Value: namespaceCloneFlags,
					}},
				}},
				Action: seccomp.ActionErrno,
			},
			{Names: []string{"clone3"}, Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)},
		},
	}
}

// installSeccomp loads the filter, and no_new_privs, on every thread of the
// process (TSYNC).
//
// The program comes from go-seccomp-bpf, with one change: the library lets
// a system call of a foreign architecture (i386 through int 0x80 on
// x86_64) fall through to the default action, here "allow", which would
// skip the whole deny list. A check of the architecture is put in front
// that kills the process instead; nothing legitimate makes such a call.
func installSeccomp() error {
	info, err := arch.GetInfo("")
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	policy := seccompPolicy()
	insts, err := policy.Assemble()
	if err != nil {
		return fmt.Errorf("seccomp: assemble filter: %w", err)
	}
	const archOffset = 4 // offsetof(struct seccomp_data, arch)
	prog := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: archOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(seccomp.ActionKillProcess)},
	}, insts...)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("seccomp: assemble filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// no_new_privs is per thread: set it on the thread that loads the
	// filter; TSYNC then sets it on every other thread with the filter.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: set no_new_privs: %w", err)
	}
	tid, _, errno := syscall.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	switch {
	case errno != 0:
		return fmt.Errorf("seccomp: load filter: %w", errno)
	case tid != 0:
		return fmt.Errorf("seccomp: thread %d could not take the filter", tid)
	}
	return nil
}
