package sandbox

import (
	"os"
	"syscall"
)

// peakRSS is the child's ru_maxrss (KiB on Linux) in bytes. The kernel
// folds in the children the child reaped (the namespace's init reaps the
// scanner), so this is the peak of the whole scan.
func peakRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}
