//go:build linux

package sandbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse/gatehouse/checks"
)

// The probe checks run inside a sandboxed child (compiled into the test
// binary only) and try to get out. Each attempt is listed in Scope.Notes
// with what happened; an attempt that succeeded is also a Finding, so a
// test fails on any finding.

// probeParams is probe.json at the root of the probe's checkout, written by
// the test.
type probeParams struct {
	Outside    string   `json:"outside"`     // a file outside the checkout, readable by everyone
	Link       string   `json:"link"`        // a symlink in the checkout pointing to Outside
	ParentPID  int      `json:"parent_pid"`  // the test process
	Port       int      `json:"port"`        // a TCP listener of the test on 127.0.0.1
	Secrets    []string `json:"secrets"`     // values planted in the test's environment
	WriteTo    []string `json:"write_to"`    // directories the child must not write to
	FileSize   int64    `json:"file_size"`   // a write larger than RLIMIT_FSIZE
	MaxForks   int      `json:"max_forks"`   // fork bomb bound
	OutputSize int      `json:"output_size"` // bytes of output to return
	// Unix sockets of the test on the host, world-writable: a stream and a
	// datagram socket file, and an abstract stream socket's name.
	UnixStream   string `json:"unix_stream"`
	UnixDgram    string `json:"unix_dgram"`
	UnixAbstract string `json:"unix_abstract"`
}

type probe struct {
	name string
	run  func(ctx context.Context, dir string, p probeParams, rep *report)
}

func (p probe) Name() string { return p.name }

func (p probe) Engine() checks.Engine { return checks.Engine{Name: "probe", Version: "test"} }

func (p probe) Run(ctx context.Context, t checks.Target) (*checks.Result, error) {
	var params probeParams
	b, err := os.ReadFile(filepath.Join(t.Dir, "probe.json"))
	if err != nil {
		return nil, fmt.Errorf("read probe.json: %w", err)
	}
	if err := json.Unmarshal(b, &params); err != nil {
		return nil, err
	}
	rep := &report{res: &checks.Result{Findings: []checks.Finding{}}}
	p.run(ctx, t.Dir, params, rep)
	return rep.res, nil
}

// report collects a probe's attempts.
type report struct{ res *checks.Result }

// attempt records one escape attempt: err == nil means it worked.
func (r *report) attempt(what string, got string, err error) {
	if err != nil {
		r.res.Scope.Notes = append(r.res.Scope.Notes, fmt.Sprintf("%s: blocked: %v", what, err))
		return
	}
	if len(got) > 200 {
		got = got[:200]
	}
	r.res.Scope.Notes = append(r.res.Scope.Notes, what+": ESCAPED")
	r.res.Findings = append(r.res.Findings, checks.Finding{RuleID: "escape", Title: what, Message: got, File: "probe"})
}

func (r *report) note(format string, args ...any) {
	r.res.Scope.Notes = append(r.res.Scope.Notes, fmt.Sprintf(format, args...))
}

func probeChecks() []checks.Check {
	return []checks.Check{
		probe{"probe-read", probeRead},
		probe{"probe-net", probeNet},
		probe{"probe-unix", probeUnix},
		probe{"probe-env", probeEnv},
		probe{"probe-write", probeWrite},
		probe{"probe-syscalls", probeSyscalls},
		probe{"probe-exec", probeExec},
		probe{"probe-cpu", func(context.Context, string, probeParams, *report) { spin() }},
		probe{"probe-alloc", probeAlloc},
		probe{"probe-fork", probeFork},
		probe{"probe-output", probeOutput},
		probe{"probe-hang", func(context.Context, string, probeParams, *report) { select {} }},
		probe{"probe-ids", probeIDs},
		probe{"probe-slow", func(ctx context.Context, _ string, _ probeParams, rep *report) { <-ctx.Done() }},
	}
}

func readAttempt(rep *report, what, path string) {
	b, err := os.ReadFile(path)
	rep.attempt(what, string(b), err)
}

func probeRead(_ context.Context, dir string, p probeParams, rep *report) {
	readAttempt(rep, "read outside file directly", p.Outside)
	readAttempt(rep, "read outside file via symlink in the checkout", filepath.Join(dir, p.Link))
	rel, _ := filepath.Rel(dir, p.Outside)
	readAttempt(rep, "read outside file via ..", dir+"/"+rel)
	readAttempt(rep, "read the parent's environment", fmt.Sprintf("/proc/%d/environ", p.ParentPID))
	readAttempt(rep, "read /etc/passwd", "/etc/passwd")
	_, err := os.ReadDir(filepath.Dir(dir))
	rep.attempt("list the checkout's parent directory", "", err)
	if _, err := os.ReadFile(filepath.Join(dir, "probe.json")); err != nil {
		rep.note("checkout read failed: %v", err)
	} else {
		rep.note("checkout read: ok")
	}
}

func probeNet(_ context.Context, _ string, p probeParams, rep *report) {
	addr := fmt.Sprintf("127.0.0.1:%d", p.Port)
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
	}
	rep.attempt("connect to the test's TCP listener "+addr, "connected", err)
	u, err := net.Dial("udp", "127.0.0.1:53")
	if err == nil {
		_, err = u.Write([]byte("x"))
		u.Close()
	}
	rep.attempt("send UDP to 127.0.0.1:53", "sent", err)
	ifs, err := net.Interfaces()
	rep.note("interfaces: %v (err %v)", ifs, err)
}

// probeUnix tries every way to a Unix socket of the host: connect to a
// stream socket file and read what it says, send to a datagram socket file
// (from a socket of its own and from one of a socketpair), connect to an
// abstract socket, and make an AF_UNIX socket with the family's high 32
// bits set (the kernel ignores them; a filter comparing 64 bits would not).
func probeUnix(_ context.Context, _ string, p probeParams, rep *report) {
	c, err := net.DialTimeout("unix", p.UnixStream, 2*time.Second)
	got := ""
	if err == nil {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 256)
		n, rerr := c.Read(b)
		got = string(b[:n])
		if n == 0 {
			got = fmt.Sprintf("connected (read: %v)", rerr)
		}
		c.Close()
	}
	rep.attempt("connect to the host's unix stream socket "+p.UnixStream, got, err)

	u, err := net.Dial("unixgram", p.UnixDgram)
	if err == nil {
		_, err = u.Write([]byte("from the sandbox"))
		u.Close()
	}
	rep.attempt("send to the host's unix datagram socket "+p.UnixDgram, "sent", err)

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err == nil {
		err = unix.Sendto(fds[0], []byte("from a socketpair"), 0, &unix.SockaddrUnix{Name: p.UnixDgram})
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
	rep.attempt("socketpair(AF_UNIX) and sendto the host's datagram socket", "sent", err)

	a, err := net.DialTimeout("unix", "@"+p.UnixAbstract, 2*time.Second)
	if err == nil {
		a.Close()
	}
	rep.attempt("connect to the host's abstract unix socket @"+p.UnixAbstract, "connected", err)

	family := uint64(1)<<32 | unix.AF_UNIX // a variable: truncated, not refused, on 32-bit builds
	fd, _, errno := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM, 0)
	if errno != 0 {
		rep.attempt("socket(AF_UNIX with high bits set)", "", errno)
	} else {
		err := unix.Connect(int(fd), &unix.SockaddrUnix{Name: p.UnixStream})
		unix.Close(int(fd))
		rep.attempt("socket(AF_UNIX with high bits set)", fmt.Sprintf("made an AF_UNIX socket (connect: %v)", err), nil)
	}

	// What the engines may need still works: an IP socket (useless in the
	// empty network namespace) and netlink.
	for _, f := range []struct {
		name   string
		family int
	}{{"AF_INET", unix.AF_INET}, {"AF_INET6", unix.AF_INET6}, {"AF_NETLINK", unix.AF_NETLINK}} {
		fd, err := unix.Socket(f.family, unix.SOCK_DGRAM, 0)
		if err == nil {
			unix.Close(fd)
			rep.note("socket(%s): ok", f.name)
		} else {
			rep.note("socket(%s): %v", f.name, err)
		}
	}
}

func probeEnv(_ context.Context, _ string, p probeParams, rep *report) {
	env := os.Environ()
	rep.note("environment: %s", strings.Join(env, " "))
	for _, kv := range env {
		for _, s := range p.Secrets {
			if strings.Contains(kv, s) {
				rep.attempt("planted secret in the environment", kv, nil)
			}
		}
	}
}

func probeWrite(_ context.Context, dir string, p probeParams, rep *report) {
	for _, d := range append([]string{dir}, p.WriteTo...) {
		f := filepath.Join(d, "probe-was-here")
		err := os.WriteFile(f, []byte("x"), 0o644)
		rep.attempt("write to "+d, "written", err)
	}
	scratch := os.TempDir()
	err := os.WriteFile(filepath.Join(scratch, "ok"), []byte("x"), 0o644)
	if err != nil {
		rep.note("scratch write failed: %v", err)
	} else {
		rep.note("scratch write: ok")
	}
	f, err := os.Create(filepath.Join(scratch, "big"))
	if err == nil {
		_, err = f.Write(make([]byte, p.FileSize+1))
		f.Close()
	}
	rep.attempt(fmt.Sprintf("write %d bytes to one file in scratch", p.FileSize+1), "written", err)
}

func probeSyscalls(_ context.Context, _ string, p probeParams, rep *report) {
	rep.attempt("unshare(CLONE_NEWUSER)", "", unix.Unshare(unix.CLONE_NEWUSER))
	rep.attempt("mount tmpfs", "", unix.Mount("none", os.TempDir(), "tmpfs", 0, ""))
	rep.attempt("ptrace(PTRACE_TRACEME)", "", errnoOf(unix.Syscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)))
	rep.attempt("bpf()", "", errnoOf(unix.Syscall(unix.SYS_BPF, 0, 0, 0)))
	rep.attempt("io_uring_setup()", "", errnoOf(unix.Syscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)))
	rep.attempt("keyctl()", "", errnoOf(unix.Syscall(unix.SYS_KEYCTL, 0, 0, 0)))
	_, err := unix.Setsid()
	rep.attempt("setsid()", "", err)
	rep.attempt("setpgid(0, 0)", "", unix.Setpgid(0, 0))
	rep.attempt("clone(CLONE_NEWNET)", "", errnoOf(unix.RawSyscall(unix.SYS_CLONE, unix.CLONE_NEWNET|uintptr(unix.SIGCHLD), 0, 0)))
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0); err == nil {
		rep.attempt("clear no_new_privs", "", nil)
	}
	rep.attempt("signal the test process", "", unix.Kill(p.ParentPID, 0))
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NPROC, &lim)
	rep.attempt("raise RLIMIT_NPROC", "", unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: lim.Max + 1000, Max: lim.Max + 1000}))
}

// errnoOf turns a raw syscall result into an error (nil on success). A
// clone that succeeded in the child branch exits at once.
func errnoOf(r1, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	if r1 == 0 {
		// The child of a successful clone.
		unix.Exit(0)
	}
	return nil
}

func probeExec(_ context.Context, _ string, _ probeParams, rep *report) {
	out, err := exec.Command("/bin/sh", "-c", "echo escaped").CombinedOutput()
	rep.attempt("run /bin/sh", string(out), err)
	script := filepath.Join(os.TempDir(), "run.sh")
	_ = os.WriteFile(script, []byte("#!/bin/sh\necho escaped\n"), 0o755)
	out, err = exec.Command(script).CombinedOutput()
	rep.attempt("run a script written to scratch", string(out), err)
	out, err = exec.Command("git", "--version").CombinedOutput()
	rep.note("git --version: %q (err %v)", strings.TrimSpace(string(out)), err)
}

// spin burns CPU until the kernel kills the process.
func spin() {
	x := 0
	for {
		x++
		if x < 0 {
			return
		}
	}
}

// sink keeps the allocations alive.
var sink [][]byte

func probeAlloc(context.Context, string, probeParams, *report) {
	for {
		b := make([]byte, 64<<20)
		for i := range b {
			if i%4096 == 0 {
				b[i] = 1
			}
		}
		sink = append(sink, b)
	}
}

// probeFork forks (without exec: Landlock allows no binary to run) until
// the kernel refuses. Each copy sleeps in pause(2) and dies with the
// child's PID namespace or process group.
func probeFork(_ context.Context, _ string, p probeParams, rep *report) {
	n := 0
	var err error
	for n < p.MaxForks {
		pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
		if errno != 0 {
			err = errno
			break
		}
		if pid == 0 {
			for {
				syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
			}
		}
		n++
	}
	rep.note("forked %d processes; then: %v", n, err)
	if err == nil {
		rep.attempt(fmt.Sprintf("fork %d processes", n), "", nil)
	} else if !errors.Is(err, syscall.EAGAIN) {
		rep.note("unexpected fork error %v", err)
	}
}

func probeOutput(_ context.Context, _ string, p probeParams, rep *report) {
	chunk := strings.Repeat("A", 1<<20)
	for range p.OutputSize >> 20 {
		rep.res.Scope.Notes = append(rep.res.Scope.Notes, chunk)
	}
}

// processNonce tells one child process from another.
var processNonce = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

func probeIDs(_ context.Context, _ string, _ probeParams, rep *report) {
	rep.note("nonce=%s", processNonce)
	rep.note("uid=%d gid=%d groups=%v", os.Getuid(), os.Getgid(), mustGroups())
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		rep.note("capget: %v", err)
	}
	rep.note("caps effective=%x permitted=%x inheritable=%x",
		uint64(data[1].Effective)<<32|uint64(data[0].Effective),
		uint64(data[1].Permitted)<<32|uint64(data[0].Permitted),
		uint64(data[1].Inheritable)<<32|uint64(data[0].Inheritable))
	bounding := 0
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if v, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && v == 1 {
			bounding++
		}
	}
	rep.note("bounding=%d", bounding)
	if v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err == nil {
		rep.note("no_new_privs=%d", v)
	}
}

func mustGroups() []int {
	g, _ := os.Getgroups()
	return g
}
