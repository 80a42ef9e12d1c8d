package sandbox

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/registry"
)

// Mode says how hard the sandbox insists on its layers.
type Mode string

// The modes GATEHOUSE_SANDBOX accepts.
const (
	// ModeAuto uses every layer the host offers and reports the missing ones.
	ModeAuto Mode = "auto"
	// ModeStrict refuses to scan when any layer is missing.
	ModeStrict Mode = "strict"
	// ModeOff runs the child with no isolation layer (the environment is
	// still scrubbed, the timeout and output cap still hold) and logs a
	// warning on every scan. For debugging only.
	ModeOff Mode = "off"
)

// ParseMode reads a GATEHOUSE_SANDBOX value; empty means ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeStrict, ModeOff:
		return m, nil
	default:
		return "", fmt.Errorf("sandbox mode %q: want auto, strict or off", s)
	}
}

// ChildCommand is the hidden subcommand that serves one sandboxed job.
const ChildCommand = "sandbox-child"

// Limits bound what one scan may use. A repository cannot raise them: they
// are set by the parent before the child reads a byte of the checkout.
// Zero fields take the defaults of DefaultLimits.
type Limits struct {
	// Timeout is the wall-clock limit of one scan; past it the child's
	// whole process group (its PID namespace) is killed.
	Timeout time.Duration
	// CPUSeconds is the CPU time one scan may use (RLIMIT_CPU, counted
	// from the moment the job arrives, so the engines' start-up is free).
	CPUSeconds int
	// AddressSpace is the child's virtual memory limit in bytes (RLIMIT_AS).
	AddressSpace int64
	// OpenFiles is RLIMIT_NOFILE.
	OpenFiles int
	// FileSize is the largest file the child may write, in bytes
	// (RLIMIT_FSIZE).
	FileSize int64
	// Processes is RLIMIT_NPROC: processes and threads of the sandbox
	// user. It holds only when the child runs as a non-root host user.
	Processes int
	// MaxOutput caps the child's response in bytes; a child that writes
	// more is killed.
	MaxOutput int64
	// Limits are the content limits (file size, files, bytes, nesting,
	// YAML expansion, per-check time) that the child applies with
	// checks/bounded, as `gatehouse scan` does in-process.
	checks.Limits
}

// DefaultLimits are the limits used where Limits leaves a field zero.
func DefaultLimits() Limits {
	return Limits{
		Timeout:      10 * time.Minute,
		CPUSeconds:   600,
		AddressSpace: 8 << 30,
		OpenFiles:    4096,
		FileSize:     1 << 30,
		Processes:    512,
		MaxOutput:    64 << 20,
		Limits:       checks.DefaultLimits(),
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	return Limits{
		Timeout:      cmp.Or(l.Timeout, d.Timeout),
		CPUSeconds:   cmp.Or(l.CPUSeconds, d.CPUSeconds),
		AddressSpace: cmp.Or(l.AddressSpace, d.AddressSpace),
		OpenFiles:    cmp.Or(l.OpenFiles, d.OpenFiles),
		FileSize:     cmp.Or(l.FileSize, d.FileSize),
		Processes:    cmp.Or(l.Processes, d.Processes),
		MaxOutput:    cmp.Or(l.MaxOutput, d.MaxOutput),
		Limits:       l.Limits.WithDefaults(),
	}
}

// Config configures a Runner. DataDir is required; the zero value of every
// other field is a sensible default.
type Config struct {
	// Mode is auto (default), strict or off.
	Mode Mode
	// Command is the child's argv: the gatehouse binary and the hidden
	// subcommand. Default: os.Executable() and ChildCommand. Tests point
	// it at a built binary or at the test binary itself.
	Command []string
	// DataDir is the data directory the engines load from (the
	// vulnerability DB is registry.DBDir(DataDir)); the child gets it
	// read-only.
	DataDir string
	// DBDir is the vulnerability DB directory the child may read once
	// Landlock is on; default registry.DBDir(DataDir), where the engines
	// load it from.
	DBDir string
	// CheckoutRoot is the directory the checkouts handed to Run live
	// under (the server's scan directory). A child with its own mount
	// namespace gets it, and the DB, as read-only mounts made by the
	// parent: neither needs to be reachable by the sandbox user through
	// the host's directories. Checkouts elsewhere must be readable by the
	// sandbox user. Empty: none.
	CheckoutRoot string
	// ScratchRoot is where each child's private scratch directory is made;
	// default os.TempDir().
	ScratchRoot string
	// Pool is how many warm children wait for a job. 0 means 2; a
	// negative value keeps no warm child (each scan starts a cold one).
	Pool int
	// UID and GID are the host user and group the child runs as. When
	// the parent is root they default to 65534 (nobody, nogroup); a
	// non-root parent can only use its own ids, which are the default.
	// The checkout and the DB must be readable by them.
	UID, GID int
	// Limits bound each scan.
	Limits Limits
	// Env names extra variables copied from the parent's environment to
	// the child (an allow-list; see childEnv for the fixed part). Names
	// that look like credentials are refused.
	Env []string
	// ReadPaths are extra host paths the child may read (Landlock); the
	// runtime's and git's needs are added automatically.
	ReadPaths []string
	// LogLevel is the level of the child's own log lines, copied to the
	// parent's logger; nil means warn.
	LogLevel slog.Leveler
	// Logger receives the sandbox's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Observer is told about child starts, kills and exits (metrics);
	// nil means nobody.
	Observer Observer
}

// resolved is Config with every default filled in.
type resolved struct {
	Config
}

func (c Config) resolve() (resolved, error) {
	var r resolved
	r.Config = c
	if r.DataDir == "" {
		return r, fmt.Errorf("sandbox: Config.DataDir is required")
	}
	if r.Mode == "" {
		r.Mode = ModeAuto
	}
	if _, err := ParseMode(string(r.Mode)); err != nil {
		return r, err
	}
	if len(r.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return r, fmt.Errorf("sandbox: find own binary: %w", err)
		}
		r.Command = []string{exe, ChildCommand}
	}
	if r.DBDir == "" {
		r.DBDir = registry.DBDir(r.DataDir)
	}
	if r.CheckoutRoot != "" {
		abs, err := filepath.Abs(r.CheckoutRoot)
		if err != nil {
			return r, fmt.Errorf("sandbox: Config.CheckoutRoot: %w", err)
		}
		r.CheckoutRoot = abs
	}
	if r.ScratchRoot == "" {
		r.ScratchRoot = os.TempDir()
	}
	switch {
	case r.Pool == 0:
		r.Pool = 2
	case r.Pool < 0:
		r.Pool = 0
	}
	if os.Geteuid() != 0 {
		if (r.UID != 0 && r.UID != os.Geteuid()) || (r.GID != 0 && r.GID != os.Getegid()) {
			return r, fmt.Errorf("sandbox: a non-root parent can only run the child as itself (uid %d), not uid %d", os.Geteuid(), r.UID)
		}
		r.UID, r.GID = os.Geteuid(), os.Getegid()
	} else if r.UID == 0 && r.GID == 0 {
		r.UID, r.GID = 65534, 65534
	}
	for _, name := range r.Env {
		if credentialName(name) {
			return r, fmt.Errorf("sandbox: Config.Env: %s looks like a credential and never reaches the child", name)
		}
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Observer == nil {
		r.Observer = nopObserver{}
	}
	if r.LogLevel == nil {
		r.LogLevel = slog.LevelWarn
	}
	r.Limits = r.Limits.withDefaults()
	return r, nil
}
