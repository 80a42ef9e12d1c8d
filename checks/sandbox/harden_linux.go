//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Landlock access rights the child gets: reading (checkout, DB, the
// runtime's files), reading and executing (git and its libraries), and
// read-write without execute in its scratch directory, so that nothing it
// writes can be run.
const (
	llReadFile  = ll.AccessFSReadFile
	llReadDir   = ll.AccessFSReadFile | ll.AccessFSReadDir
	llExecFile  = ll.AccessFSReadFile | ll.AccessFSExecute
	llExecDir   = llReadDir | ll.AccessFSExecute
	llScratch   = llReadDir | ll.AccessFSWriteFile | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile | ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSym | ll.AccessFSTruncate | ll.AccessFSRefer
	llDevNull   = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate
	minLandlock = 1
)

// hardenStart applies, in the child and before the engines load, the layers
// that do not depend on the job: no_new_privs, the seccomp filter and the
// resource limits (except CPU time, set when the job arrives so that the
// engines' start-up is not counted). It also reports what the child sees
// of its own privileges.
func hardenStart(cfg childConfig) []Layer {
	var out []Layer
	// no_new_privs is per thread: set it on all of them (libpsx or Go's
	// AllThreadsSyscall), so that whichever thread starts git passes it on.
	if err := ll.AllThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		out = append(out, Layer{Name: LayerNoNewPrivs, Detail: "prctl(PR_SET_NO_NEW_PRIVS): " + err.Error()})
	} else {
		out = append(out, Layer{Name: LayerNoNewPrivs, Active: true, Detail: "setuid binaries and file capabilities grant nothing"})
	}
	if err := installSeccomp(); err != nil {
		out = append(out, Layer{Name: LayerSeccomp, Detail: err.Error()})
	} else {
		out = append(out, Layer{Name: LayerSeccomp, Active: true, Detail: fmt.Sprintf(
			"%d system calls denied (ptrace, mount, kexec, bpf, module loading, keyrings, io_uring...), no new namespaces, sockets of the IP and netlink families only (no Unix sockets), foreign architectures kill", len(deniedSyscalls))})
	}
	out = append(out, applyRlimits(cfg.Limits))
	out = append(out, privileges())
	if abi, err := ll.LandlockGetABIVersion(); err != nil || abi < minLandlock {
		detail := "the kernel has no Landlock"
		if err != nil {
			detail += ": " + err.Error()
		}
		out = append(out, Layer{Name: LayerLandlock, Detail: detail})
	} else {
		out = append(out, Layer{Name: LayerLandlock, Active: true, Detail: landlockDetail(abi) + " (applied per job)"})
	}
	return out
}

// applyRlimits sets soft and hard limits together: without
// CAP_SYS_RESOURCE in the host's user namespace nothing can raise them.
func applyRlimits(l Limits) Layer {
	set := []struct {
		name string
		res  int
		v    uint64
	}{
		{"address space", unix.RLIMIT_AS, uint64(l.AddressSpace)},
		{"open files", unix.RLIMIT_NOFILE, uint64(l.OpenFiles)},
		{"file size", unix.RLIMIT_FSIZE, uint64(l.FileSize)},
		{"processes", unix.RLIMIT_NPROC, uint64(l.Processes)},
		{"core dumps", unix.RLIMIT_CORE, 0},
	}
	var failed []string
	for _, s := range set {
		// syscall.Setrlimit (not unix.Setrlimit) so that os/exec does not
		// restore the original open-files limit in git.
		if err := syscall.Setrlimit(s.res, &syscall.Rlimit{Cur: s.v, Max: s.v}); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", s.name, err))
		}
	}
	if len(failed) > 0 {
		return Layer{Name: LayerRlimits, Detail: "setrlimit: " + strings.Join(failed, "; ")}
	}
	return Layer{Name: LayerRlimits, Active: true, Detail: fmt.Sprintf(
		"CPU %ds per scan, address space %d MiB, %d open files, files up to %d MiB, %d processes and threads",
		l.CPUSeconds, l.AddressSpace>>20, l.OpenFiles, l.FileSize>>20, l.Processes)}
}

// setCPULimit allows the job seconds of CPU time on top of what the child
// has used so far. Past it the kernel sends SIGKILL (soft and hard limits
// are equal; Go ignores the SIGXCPU a lower soft limit would send first).
func setCPULimit(seconds int) error {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	used := uint64(ru.Utime.Sec + ru.Stime.Sec + 1)
	v := used + uint64(seconds)
	if err := syscall.Setrlimit(unix.RLIMIT_CPU, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
		return fmt.Errorf("setrlimit(CPU): %w", err)
	}
	return nil
}

// privileges reports whether the child runs without capabilities and as a
// host user other than root (its uid inside a user namespace may be 0; the
// uid map says who that is on the host).
func privileges() Layer {
	capEff, err := statusField("CapEff")
	if err != nil {
		return Layer{Name: LayerUnprivileged, Detail: "cannot read own capabilities: " + err.Error()}
	}
	host, err := hostUID(os.Geteuid())
	if err != nil {
		return Layer{Name: LayerUnprivileged, Detail: "cannot read own uid map: " + err.Error()}
	}
	if host == 0 || strings.Trim(capEff, "0") != "" {
		return Layer{Name: LayerUnprivileged, Detail: fmt.Sprintf("child runs as host uid %d with capabilities %s", host, capEff)}
	}
	return Layer{Name: LayerUnprivileged, Active: true, Detail: fmt.Sprintf("host uid %d, no capabilities", host)}
}

// hostUID translates a uid of this process's user namespace to the host's.
func hostUID(uid int) (int, error) {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var inside, outside, count int
		if _, err := fmt.Sscan(line, &inside, &outside, &count); err != nil {
			continue
		}
		if uid >= inside && uid-inside < count {
			return outside + (uid - inside), nil
		}
	}
	return 0, fmt.Errorf("uid %d is not mapped", uid)
}

func statusField(name string) (string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == name {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s not in /proc/self/status", name)
}

func landlockDetail(abi int) string {
	d := "ABI " + strconv.Itoa(abi) + ": reads limited to the checkout, the DB and the runtime's files, writes to scratch"
	if abi >= 4 {
		d += ", TCP bind/connect denied"
	}
	if abi >= 6 {
		d += ", signals and abstract unix sockets scoped"
	}
	return d
}

// applyLandlock restricts the child, for good, to what the job needs: read
// the checkout and the DB, read and execute git and the system libraries,
// read the few runtime files listed by the parent, read-write (no execute)
// its scratch directory; no TCP or UDP, no signals or abstract sockets
// outside its own domain. It runs before the child reads a byte of the
// checkout.
func applyLandlock(cfg childConfig, checkout string) Layer {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil || abi < minLandlock {
		return Layer{Name: LayerLandlock, Detail: "the kernel has no Landlock"}
	}
	scratchRights := landlock.AccessFSSet(llScratch)
	if abi < 2 {
		// go-landlock drops the whole ruleset, silently, when a rule asks
		// for "refer" on a kernel that cannot grant it.
		scratchRights &^= ll.AccessFSRefer
	}
	var rules []landlock.Rule
	add := func(fileRights, dirRights landlock.AccessFSSet, paths ...string) error {
		for _, p := range paths {
			info, err := os.Stat(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("landlock rule for %s: %w", p, err)
			}
			rights := fileRights
			if info.IsDir() {
				rights = dirRights
			}
			rules = append(rules, landlock.PathAccess(rights, p))
		}
		return nil
	}
	for _, err := range []error{
		add(llReadFile, llReadDir, checkout, cfg.DBDir),
		add(llReadFile, llReadDir, cfg.ReadPaths...),
		add(llExecFile, llExecDir, cfg.ExecPaths...),
		add(llDevNull, scratchRights, cfg.Scratch),
		add(llDevNull, llDevNull, os.DevNull),
	} {
		if err != nil {
			return Layer{Name: LayerLandlock, Detail: err.Error()}
		}
	}
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return Layer{Name: LayerLandlock, Detail: "restrict: " + err.Error()}
	}
	return Layer{Name: LayerLandlock, Active: true, Detail: landlockDetail(abi)}
}

// protocolOut moves the protocol to a private, close-on-exec copy of
// stdout and points file descriptor 1 at stderr, so that whatever a
// library prints lands in the log, not in the answer.
func protocolOut() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("duplicate stdout: %w", err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("redirect stdout to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "sandbox-protocol"), nil
}
