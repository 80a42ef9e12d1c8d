package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the whole process to the file
// GATEHOUSE_CPUPROFILE names (unset: nothing). It is how the breakdowns in
// docs/performance.md are made: `go tool pprof -top gatehouse FILE`.
func startProfile() (stop func(), err error) {
	path := os.Getenv("GATEHOUSE_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("GATEHOUSE_CPUPROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
