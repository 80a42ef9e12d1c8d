//go:build linux

package sandbox

import (
	"encoding/binary"
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

// allowedSocketFamilies are the only address families socket(2) and
// socketpair(2) may create in the child. A scanner needs no socket at all;
// these are the ones a runtime may probe (IP, which the empty network
// namespace makes useless, and netlink, which lists its interfaces).
// Everything else fails with EAFNOSUPPORT, as on a kernel built without
// it: above all AF_UNIX, because Landlock (before ABI 9) does not govern
// connect(2) on a socket file, so a world-writable socket on the host (a
// container runtime's, a database's, an agent's) would otherwise be
// reachable from the checkout's parser; and with it vsock (the
// hypervisor), AF_ALG and the other rarely used families with a history
// of kernel bugs.
var allowedSocketFamilies = []uint32{unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK}

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
// After it comes the socket family rule (socketFilter).
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
	}, socketFilter()...)
	prog = append(prog, insts...)
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

// socketFilter refuses socket(2) and socketpair(2) for every address family
// but allowedSocketFamilies, with EAFNOSUPPORT; any other call falls
// through to the next instruction. It is written by hand because
// go-seccomp-bpf compares all 64 bits of an argument, while the kernel
// reads the family as a 32-bit int: a family of AF_UNIX with high bits set
// would pass a 64-bit "equal" test and still make a Unix socket. Only the
// low 32 bits are compared here.
func socketFilter() []bpf.Instruction {
	const nrOffset, argsOffset = 0, 16 // offsetof(struct seccomp_data, nr), (…, args)
	family := uint32(argsOffset)       // the low half of args[0]
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		family += 4 // big endian: the low half comes second
	}
	n := len(allowedSocketFamilies)
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: nrOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(unix.SYS_SOCKET), SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(unix.SYS_SOCKETPAIR), SkipTrue: uint8(n + 2)},
		bpf.LoadAbsolute{Off: family, Size: 4},
	}
	for i, f := range allowedSocketFamilies {
		// An allowed family skips the rest of the list and the refusal.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: f, SkipTrue: uint8(n - i)})
	}
	return append(prog, bpf.RetConstant{Val: uint32(seccomp.ActionErrno) | uint32(unix.EAFNOSUPPORT)})
}
