package checks

import (
	"cmp"
	"time"
)

// Limits are the content limits a scan applies to what it reads, the same
// wherever the checks run: in a sandboxed child for the server, in-process
// for `gatehouse scan` (checks/bounded applies them). A repository cannot
// raise them.
type Limits struct {
	// CheckTimeout is the longest one check may run; a check that overruns
	// it is reported in Response.Errors as a limit hit.
	CheckTimeout time.Duration
	// MaxFileSize is the largest file each scanner reads, in bytes; larger
	// files are listed in Scope.Skipped as limit hits. 0 keeps each
	// engine's own default (secrets 10 MB, iac 10 MiB, dependencies 64 MiB).
	MaxFileSize int64
	// MaxFiles is the most files (outside .git) a checkout may hold; a
	// bigger checkout is not scanned and every check reports why.
	MaxFiles int
	// MaxTotalBytes is the most bytes those files may hold together.
	MaxTotalBytes int64
	// MaxNesting is the deepest JSON or YAML nesting handed to the
	// structure-parsing checks (dependencies, iac); deeper files are
	// listed in Scope.Skipped.
	MaxNesting int
	// MaxYAMLBytes is the largest YAML file measured; larger YAML files
	// are not handed to dependencies and iac (listed in Scope.Skipped).
	MaxYAMLBytes int64
	// MaxYAMLNodes is the most YAML nodes a file may expand to once its
	// aliases are resolved (a "billion laughs" file expands to billions).
	MaxYAMLNodes int
}

// DefaultLimits are the limits used where Limits leaves a field zero.
func DefaultLimits() Limits {
	return Limits{
		CheckTimeout:  5 * time.Minute,
		MaxFiles:      200_000,
		MaxTotalBytes: 4 << 30,
		MaxNesting:    128,
		MaxYAMLBytes:  16 << 20,
		MaxYAMLNodes:  2_000_000,
	}
}

// WithDefaults fills the zero fields from DefaultLimits (MaxFileSize stays
// 0: the engines' own defaults).
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	return Limits{
		CheckTimeout:  cmp.Or(l.CheckTimeout, d.CheckTimeout),
		MaxFileSize:   l.MaxFileSize,
		MaxFiles:      cmp.Or(l.MaxFiles, d.MaxFiles),
		MaxTotalBytes: cmp.Or(l.MaxTotalBytes, d.MaxTotalBytes),
		MaxNesting:    cmp.Or(l.MaxNesting, d.MaxNesting),
		MaxYAMLBytes:  cmp.Or(l.MaxYAMLBytes, d.MaxYAMLBytes),
		MaxYAMLNodes:  cmp.Or(l.MaxYAMLNodes, d.MaxYAMLNodes),
	}
}
