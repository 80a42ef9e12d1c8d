// Package secrets is gatehouse's secrets check: gitleaks v8 (its default
// rules, and the extra rule sets a policy turns on, such as
// credential-files) used as a Go library, never as a CLI. It scans a directory tree, or
// every line added by the commits of a git range so that a secret added and
// later deleted is still found, and reports redacted findings.
//
// gitleaks keeps global state (its default config goes through a global
// viper, its logger is a package variable); this package keeps all of it
// here: the rules are compiled once per process with a private viper and
// shared read-only by every Scanner.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/regexp"

	"github.com/gatehouse/gatehouse/checks"
)

// DefaultMaxTargetMegaBytes is the size (in 10^6 bytes) above which a file,
// or the lines one commit adds to a file, is skipped and listed in
// Scope.Skipped.
const DefaultMaxTargetMegaBytes = 10

// defaultMaxDecodeDepth matches the gitleaks CLI's --max-decode-depth, so
// base64/hex/percent-encoded secrets are found as the CLI finds them.
const defaultMaxDecodeDepth = 5

// Options configures a Scanner. The zero value is usable.
type Options struct {
	// MaxTargetMegaBytes skips files (directory mode) and per-commit added
	// text (git mode) larger than this many megabytes (10^6 bytes).
	// 0 means DefaultMaxTargetMegaBytes.
	MaxTargetMegaBytes int
	// MaxFileSize, when set, is the same limit in bytes and takes
	// precedence over MaxTargetMegaBytes (gitleaks' own guard is then set
	// to the megabyte above it, so ours decides).
	MaxFileSize int64
	// MaxDecodeDepth is how many rounds of decoding (base64, hex, percent)
	// gitleaks applies to find encoded secrets. 0 means the CLI's default
	// (5); a negative value turns decoding off.
	MaxDecodeDepth int
	// Concurrency bounds the files (or commit files) scanned in parallel.
	// 0 means GOMAXPROCS.
	Concurrency int
	// Logger receives scan-level logs; nil means slog.Default().
	Logger *slog.Logger
}

// Scanner is the secrets check. It is safe for concurrent use: Run only
// reads the compiled rules and the detector.
type Scanner struct {
	rules    *ruleSet
	det      *detect.Detector // the default rules
	opts     Options
	engine   checks.Engine
	maxBytes int64
	conc     int
	log      *slog.Logger

	mu    sync.Mutex
	extra map[string]*extraDetector // extra rule sets, by their names joined
}

// extraDetector runs extra rule sets. Their rules are all scoped by path,
// and gitleaks matches a rule's path only after its keywords, for every
// fragment: a detector of their own, run only on the files one of their
// paths admits, costs the other files one path match.
type extraDetector struct {
	det   *detect.Detector
	paths []*regexp.Regexp
}

// wants reports whether a rule of the set may match in file.
func (e *extraDetector) wants(file string) bool {
	for _, p := range e.paths {
		if p.MatchString(file) {
			return true
		}
	}
	return false
}

var _ checks.Check = (*Scanner)(nil)

// New returns a Scanner on gitleaks' default rules; a target's SecretRules
// add extra rule sets. The first call in a process compiles the rules;
// later calls reuse them.
func New(opts Options) (*Scanner, error) {
	rules, err := defaultRules()
	if err != nil {
		return nil, fmt.Errorf("load gitleaks rules: %w", err)
	}
	if opts.MaxTargetMegaBytes <= 0 {
		opts.MaxTargetMegaBytes = DefaultMaxTargetMegaBytes
	}
	maxBytes := int64(opts.MaxTargetMegaBytes) * 1_000_000
	if opts.MaxFileSize > 0 {
		maxBytes = opts.MaxFileSize
		opts.MaxTargetMegaBytes = int((opts.MaxFileSize + 999_999) / 1_000_000)
	}
	switch {
	case opts.MaxDecodeDepth == 0:
		opts.MaxDecodeDepth = defaultMaxDecodeDepth
	case opts.MaxDecodeDepth < 0:
		opts.MaxDecodeDepth = 0
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	det := newDetector(rules.cfg, opts)
	return &Scanner{
		rules: rules,
		det:   det,
		opts:  opts,
		engine: checks.Engine{
			Name:        "gitleaks",
			Version:     engineVersion(),
			DataVersion: rules.dataVersion,
		},
		maxBytes: maxBytes,
		conc:     opts.Concurrency,
		log:      opts.Logger,
	}, nil
}

// newDetector builds a detector on cfg. The detector holds the keyword
// prefilter built from the rules. Only its read-only DetectContext is used,
// so one detector serves every scan; findings are collected per scan, never
// in the detector.
func newDetector(cfg config.Config, opts Options) *detect.Detector {
	det := detect.NewDetector(cfg)
	det.MaxDecodeDepth = opts.MaxDecodeDepth
	det.MaxArchiveDepth = 0
	det.MaxTargetMegaBytes = opts.MaxTargetMegaBytes
	// Redaction happens per finding after the secret's hash is taken (the
	// fingerprint needs it); gitleaks:allow is applied here too, so the
	// findings it suppresses can be reported as suppressed.
	det.Redact = 0
	det.IgnoreGitleaksAllow = true
	return det
}

// extraDetector returns the detector of the extra rule sets named
// (checks.SecretRuleSets), built on first use and kept; nil for none.
func (s *Scanner) extraDetector(names []string) (*extraDetector, error) {
	if len(names) == 0 {
		return nil, nil
	}
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	key := strings.Join(names, ",")
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.extra[key]; ok {
		return d, nil
	}
	cfg, err := extraConfig(s.rules.cfg, names)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	// The credentials these rules know are written in their files as
	// they are (an encoded one, such as Docker's auth, is matched
	// encoded): decoding passes would double the work on every
	// configuration file and report one credential twice.
	opts := s.opts
	opts.MaxDecodeDepth = 0
	d := &extraDetector{det: newDetector(cfg, opts)}
	for _, id := range cfg.OrderedRules {
		d.paths = append(d.paths, cfg.Rules[id].Path)
	}
	if s.extra == nil {
		s.extra = map[string]*extraDetector{}
	}
	s.extra[key] = d
	return d, nil
}

// Name returns checks.Secrets.
func (s *Scanner) Name() string { return checks.Secrets }

// Engine names gitleaks, its module version and the hash of its rules.
func (s *Scanner) Engine() checks.Engine { return s.engine }

// Run scans t. With t.HeadRev empty it scans the files under t.Dir (only
// t.Paths when set); otherwise every line added by the commits in
// t.BaseRev..t.HeadRev of the repository at t.Dir. Symlinks are never
// followed. Findings suppressed by gitleaks:allow or by the target's
// .gitleaksignore (t.Ignore; in both modes) are returned in
// Result.Suppressed.
func (s *Scanner) Run(ctx context.Context, t checks.Target) (*checks.Result, error) {
	if t.Dir == "" {
		return nil, errors.New("secrets: target has no directory")
	}
	if t.HeadRev == "" && t.BaseRev != "" {
		return nil, fmt.Errorf("secrets: base revision %q given without a head revision", t.BaseRev)
	}
	paths, err := cleanPaths(t.Paths)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(t.Dir)
	if err != nil {
		return nil, fmt.Errorf("secrets: open %s: %w", t.Dir, err)
	}
	defer root.Close()

	extra, err := s.extraDetector(t.SecretRules)
	if err != nil {
		return nil, err
	}
	c := newCollector(s.det, extra)
	if len(t.SecretRules) > 0 {
		c.note("extra rules: %s, besides gitleaks' default rules", strings.Join(t.SecretRules, ", "))
	}
	mode := "dir"
	if t.HeadRev == "" {
		err = s.scanDir(ctx, root, paths, c)
	} else {
		mode = "git"
		err = s.scanGit(ctx, t, paths, c)
	}
	if err != nil {
		return nil, err
	}
	// gitleaks stops matching quietly when the context ends; a scan cut
	// short must not pass for a complete one.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("secrets: scan %s: %w", t.Dir, err)
	}
	inForce, fromChange, err := loadIgnores(t)
	if err != nil {
		return nil, err
	}
	res := c.result(s.engine, inForce, fromChange)
	s.log.LogAttrs(ctx, slog.LevelDebug, "secrets scan done",
		slog.String("mode", mode), slog.String("dir", t.Dir),
		slog.Int("findings", len(res.Findings)), slog.Int("suppressed", len(res.Suppressed)),
		slog.Int("files", res.Scope.Files), slog.Int("commits", res.Scope.Commits))
	return res, nil
}

// cleanPaths validates t.Paths: slash-separated, relative, inside the
// target. No paths means the whole tree (".").
func cleanPaths(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{"."}, nil
	}
	out := make([]string, 0, len(in))
	for _, p := range in {
		c := path.Clean(p)
		if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") || strings.Contains(c, "\\") {
			return nil, fmt.Errorf("secrets: path %q is not a relative path inside the target", p)
		}
		out = append(out, c)
	}
	return out, nil
}

// inPaths reports whether the slash path file is one of paths or under one.
func inPaths(paths []string, file string) bool {
	for _, p := range paths {
		if p == "." || file == p || strings.HasPrefix(file, p+"/") {
			return true
		}
	}
	return false
}
