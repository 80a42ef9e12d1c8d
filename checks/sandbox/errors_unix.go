//go:build unix

package sandbox

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// signalFailure explains a child that a signal ended, or returns nil.
func signalFailure(ps *os.ProcessState, lim Limits) error {
	sig, ok := signalOf(ps.Sys())
	if !ok {
		return nil
	}
	var cpu time.Duration
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	switch {
	case (sig == syscall.SIGKILL || sig == syscall.SIGXCPU) && cpu >= time.Duration(lim.CPUSeconds)*time.Second:
		return fmt.Errorf("%w: the child used %s of CPU, over its %ds, and was killed", ErrCPULimit, cpu.Round(time.Millisecond), lim.CPUSeconds)
	case sig == syscall.SIGSYS:
		return fmt.Errorf("%w: killed by the seccomp filter (a system call of a foreign architecture)", ErrChildFailed)
	}
	return fmt.Errorf("%w: killed by signal %s", ErrChildFailed, sig)
}

// signalOf returns the signal that ended the child: directly, or through
// the namespace's init, which exits with 128+signal (runInit).
func signalOf(sys any) (syscall.Signal, bool) {
	ws, ok := sys.(syscall.WaitStatus)
	switch {
	case !ok:
		return 0, false
	case ws.Signaled():
		return ws.Signal(), true
	case ws.Exited() && ws.ExitStatus() > 128 && ws.ExitStatus() < 128+65:
		return syscall.Signal(ws.ExitStatus() - 128), true
	}
	return 0, false
}
