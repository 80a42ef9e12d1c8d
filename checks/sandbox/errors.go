package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Errors a scan in the sandbox can end with, besides the checks' own
// errors (which come back in checks.Response.Errors). Each is wrapped with
// the limit that was hit; test with errors.Is.
var (
	// ErrTimeout: the scan ran past Limits.Timeout; the child's whole
	// process group was killed.
	ErrTimeout = errors.New("sandbox: scan timed out")
	// ErrOutputLimit: the child's answer was larger than Limits.MaxOutput.
	ErrOutputLimit = errors.New("sandbox: answer over the output limit")
	// ErrCPULimit: the child used up its CPU seconds (Limits.CPUSeconds).
	ErrCPULimit = errors.New("sandbox: CPU time limit reached")
	// ErrMemoryLimit: the child ran out of address space (Limits.AddressSpace).
	ErrMemoryLimit = errors.New("sandbox: memory limit reached")
	// ErrProcessLimit: the child could not create a thread or process
	// (Limits.Processes).
	ErrProcessLimit = errors.New("sandbox: process limit reached")
	// ErrChildFailed: the child died or answered nonsense for another
	// reason; the server log has its last output.
	ErrChildFailed = errors.New("sandbox: child failed")
	// ErrLayerMissing: strict mode and a layer is not available.
	ErrLayerMissing = errors.New("sandbox: isolation layer missing (strict mode)")
	// ErrClosed: the Runner was closed.
	ErrClosed = errors.New("sandbox: runner closed")
)

// failure explains why a child that was handed a job (or was starting)
// did not answer. It does not quote the child's output, which may hold
// repository content; the parent's log has it.
func (c *child) failure(cause error) error {
	lim := c.lim
	switch c.killReason() {
	case killTimeout:
		return fmt.Errorf("%w after %s: the child and every process it started were killed", ErrTimeout, lim.Timeout)
	case killOutput:
		return fmt.Errorf("%w: the answer passed %d bytes; the child was killed", ErrOutputLimit, lim.MaxOutput)
	case killCanceled:
		return fmt.Errorf("sandbox: scan canceled: %w", context.Canceled)
	}
	ps := c.cmd.ProcessState
	if ps == nil {
		return fmt.Errorf("%w: %v", ErrChildFailed, cause)
	}
	stderr := c.stderr.String()
	if err := signalFailure(ps, lim); err != nil {
		return err
	}
	switch {
	case strings.Contains(stderr, "out of memory"), strings.Contains(stderr, "cannot allocate memory"):
		return fmt.Errorf("%w: the child ran out of its %d MiB of address space and died", ErrMemoryLimit, lim.AddressSpace>>20)
	case strings.Contains(stderr, "failed to create new OS thread"), strings.Contains(stderr, "newosproc"),
		strings.Contains(stderr, "pthread_create failed"):
		return fmt.Errorf("%w: the child could not start a thread (limit %d processes and threads) and died", ErrProcessLimit, lim.Processes)
	}
	if ps.ExitCode() != 0 {
		return fmt.Errorf("%w: exit status %d (the server log has its output)", ErrChildFailed, ps.ExitCode())
	}
	if cause != nil {
		return fmt.Errorf("%w: %v", ErrChildFailed, cause)
	}
	return fmt.Errorf("%w: no answer", ErrChildFailed)
}
