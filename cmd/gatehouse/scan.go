package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/bounded"
	scancache "github.com/gatehouse/gatehouse/checks/cache"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/format"
	"github.com/gatehouse/gatehouse/checks/iac"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

type scanFlags struct {
	base, formatName, dataDir, policyFile string
	logLevel, output, dbRepository        string
	offline                               bool
	stderr                                io.Writer
	checkNames, customDirs                []string
	noCache                               bool
	contentFlags
}

func newScan() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [DIR]",
		Short: "Run the checks and the policy on a directory (or a git range with --base); exit 1 when something blocks",
		Long: `Run gatehouse's checks on DIR (default: the current directory), through
the same verdict pipeline as the server.

With --base REV, secrets are scanned in every commit of REV..HEAD (history,
not only the final tree), and dependency and IaC findings already present at
REV are reported as existing, not blocking. As the server reads a pull
request's settings from its base, the repository's policy
(.github/gatehouse.yml), custom checks (.github/gatehouse/checks) and the
tools' ignore files are read from REV: what DIR adds to them is a
suppression from the change, which the policy's suppressions.from_change
decides (by default it waits for an approval, so it does not apply here).
Without --base they are read from DIR.

The server-wide policy comes from --policy (or $GATEHOUSE_POLICY_FILE);
--custom-checks DIR adds the custom Rego checks in DIR. The content limits
(--max-file-size, --check-timeout) are serve's. Exit codes: 0 nothing
blocks, 1 something blocks, 2 usage or internal error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			out := cmd.OutOrStdout()
			if f.output != "" {
				file, err := os.Create(f.output)
				if err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				defer file.Close()
				out = file
			}
			f.stderr = cmd.ErrOrStderr()
			err := runScan(cmd.Context(), out, dir, f)
			if f.output != "" {
				var ee exitError
				if err == nil || errors.As(err, &ee) {
					fmt.Fprintf(cmd.ErrOrStderr(), "gatehouse: report written to %s\n", f.output)
				}
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.base, "base", "", "git revision to compare with (scan REV..HEAD)")
	fs.StringVarP(&f.formatName, "format", "f", "text", "output: text (or table), json, sarif or cyclonedx")
	fs.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of stdout (the exit code is unchanged)")
	fs.StringSliceVar(&f.checkNames, "checks", nil, "checks to run (default: all)")
	envString(fs, &f.dataDir, "data-dir", "GATEHOUSE_DATA_DIR", defaultDataDir(), "data directory (vulnerability DB)")
	envString(fs, &f.policyFile, "policy-file", "GATEHOUSE_POLICY_FILE", "", "server-wide policy file (--policy is the same flag)")
	fs.SetNormalizeFunc(policyAlias)
	fs.StringSliceVar(&f.customDirs, "custom-checks", nil, "directories of custom Rego checks to run with the iac check (e.g. .github/gatehouse/checks)")
	fs.BoolVar(&f.noCache, "no-cache", false, "read every file and run every engine, without the finding cache in the data dir ("+scancache.FileName+")")
	f.contentFlags.register(fs)
	envBool(fs, &f.offline, "offline", "GATEHOUSE_OFFLINE", false, "never download the vulnerability DB; use what is in the data dir")
	envString(fs, &f.dbRepository, "trivy-db-repository", "GATEHOUSE_TRIVY_DB_REPOSITORY", "", "OCI repository of the vulnerability DB (trivy's default when empty)")
	envChoice(fs, &f.logLevel, "log-level", "GATEHOUSE_LOG_LEVEL", "error", logLevels, "the engines' log lines on stderr: debug, info, warn or error")
	return cmd
}

func runScan(ctx context.Context, out io.Writer, dir string, f scanFlags) error {
	switch f.formatName {
	case "text", "json", "sarif", "cyclonedx":
	case "table":
		f.formatName = "text"
	default:
		return fmt.Errorf("--format %q: want text (or table), json, sarif or cyclonedx", f.formatName)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	var server *policy.File
	if f.policyFile != "" {
		if server, err = policy.Load(f.policyFile); err != nil {
			return err
		}
	}
	lim, err := f.contentFlags.limits(0)
	if err != nil {
		return err
	}
	// trivy logs through slog's default logger (buffering every line until
	// told otherwise): route it to ours before loading the engines.
	log := quietLogger(f.logLevel)
	deps.RouteLogs(log)
	names := registry.Names
	if len(f.checkNames) > 0 {
		names = f.checkNames
	}
	head := &verdict.DirTree{Dir: abs}
	// The directory is walked once: the policy, the custom checks and the
	// scan all read the same listing.
	req := verdict.Request{Head: verdict.Memo(head), Checks: names, Logger: log}
	var cache *scancache.File
	// cyclonedx prints one document for the tree, which a result merged
	// from cached units of several lockfiles does not hold.
	if !f.noCache && f.formatName != "cyclonedx" {
		c, err := scancache.Open(filepath.Join(f.dataDir, scancache.FileName), scancache.BuildID(version), 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gatehouse: scanning without the finding cache: %v\n", err)
		} else {
			defer c.Close()
			cache = c
			head.Hashes = c
		}
	}
	// Settings come from the base, as the server reads them from a pull
	// request's base; without one, from the directory.
	settings := req.Head
	if f.base != "" {
		headRev, err := gitOut(ctx, abs, "rev-parse", "--verify", "HEAD^{commit}")
		if err != nil {
			return err
		}
		baseRev, err := gitOut(ctx, abs, "rev-parse", "--verify", f.base+"^{commit}")
		if err != nil {
			if shallow, _ := gitOut(ctx, abs, "rev-parse", "--is-shallow-repository"); shallow == "true" {
				return fmt.Errorf("--base %s: this clone is shallow and does not have that commit: "+
					"fetch more history (in GitHub Actions, actions/checkout with fetch-depth: 0; or git fetch --unshallow)", f.base)
			}
			return fmt.Errorf("--base %s: %w", f.base, err)
		}
		if head.GitDir, err = gitOut(ctx, abs, "rev-parse", "--absolute-git-dir"); err != nil {
			return err
		}
		base := &verdict.GitTree{Repo: abs, Commit: baseRev}
		req.Base, req.Range, settings = base, &verdict.Range{Base: baseRev, Head: headRev}, base
	}
	pol, polErr := verdict.LoadPolicy(ctx, server, settings)
	var pe *policy.ParseError
	if polErr != nil && !errors.As(polErr, &pe) {
		return polErr
	}
	req.Policy = pol
	if pol != nil {
		if cp, _ := pol.Check(policy.Custom); cp.Mode != policy.ModeOff {
			if req.Custom, err = verdict.LoadCustomChecks(ctx, settings, checks.OriginRepo); err != nil {
				return err
			}
		}
	}
	for _, d := range f.customDirs {
		cc, err := iac.LoadCustomDir(d, checks.OriginRepo)
		if err != nil {
			return fmt.Errorf("--custom-checks: %w", err)
		}
		req.Custom = append(req.Custom, cc...)
	}
	req.Custom = checks.CapCustomChecks(req.Custom)
	if !f.offline && f.stderr != nil && slices.Contains(names, checks.Dependencies) {
		firstUseDB(ctx, f.stderr, f.dataDir, f.dbRepository)
	}
	// trivy's Go analyzer reads $GOPATH/pkg/mod for licenses and module
	// graphs. The sandboxed server gives it an empty GOPATH (checks/sandbox
	// childEnv); so does the CLI, so a verdict does not depend on the
	// host's module cache (and a scan does not classify its licenses).
	noGopath, err := os.MkdirTemp("", "gatehouse-gopath-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(noGopath)
	if err := os.Setenv("GOPATH", noGopath); err != nil {
		return err
	}
	// The engines load only when something must be scanned: a re-scan
	// the cache answers whole starts none.
	engines := &lazyEngines{limits: lim, open: func() (*registry.Set, error) {
		return registry.New(registry.Options{DataDir: f.dataDir, MaxFileSize: lim.MaxFileSize, Logger: log})
	}}
	defer engines.Close()
	cfg := verdict.Config{Runner: engines, Splitters: registry.Splitters(), Logger: log}
	if cache != nil {
		dbDir := registry.DBDir(f.dataDir)
		cfg.Cache, cfg.Engines = cache, cache
		cfg.DBUpdatedAt = func() time.Time {
			info, _ := deps.DBStatus(dbDir)
			return info.UpdatedAt
		}
	}
	pipeline := verdict.New(cfg)
	scanned, err := pipeline.Scan(ctx, req)
	if err != nil {
		return err
	}
	dec := verdict.Decide(verdict.Input{Scanned: scanned, Policy: pol, PolicyErr: polErr, Now: time.Now()})
	if f.formatName == "cyclonedx" {
		// The SBOM lists components, which needs no vulnerability DB: without
		// one it is made from the lockfiles alone. The exit code is the
		// verdict's, as for every format (a check that could not complete,
		// such as dependencies without a DB, is 1).
		var sbom []byte
		if r := scanned.Head.Result(checks.Dependencies); r != nil && r.SBOM != nil {
			sbom = r.SBOM
		} else if info, err := deps.DBStatus(registry.DBDir(f.dataDir)); err == nil && !info.Present {
			set, err := engines.Set()
			if err != nil {
				return err
			}
			if sbom, err = set.Deps.Inventory(ctx, checks.Target{Dir: abs}); err != nil {
				return err
			}
		} else {
			return fmt.Errorf("no SBOM: the dependencies check did not complete: %s", scanned.Head.Errors[checks.Dependencies])
		}
		if _, err := out.Write(sbom); err != nil {
			return err
		}
		if code := format.ExitCode(&format.Report{Results: scanned.Head.Results, Verdicts: dec.Verdicts}); code != 0 {
			return exitError{code}
		}
		return nil
	}
	rep := &format.Report{
		Target: dir, ToolVersion: version, Results: scanned.Head.Results, Verdicts: dec.Verdicts,
		PolicyHash: dec.PolicyHash, PolicySources: dec.PolicySources,
	}
	if req.Range != nil {
		rep.Base, rep.Head = req.Range.Base, req.Range.Head
	}
	switch f.formatName {
	case "json":
		err = format.JSON(out, rep)
	case "sarif":
		err = format.SARIF(out, rep)
	default:
		err = format.Text(out, rep)
	}
	if err != nil {
		return err
	}
	if code := format.ExitCode(rep); code != 0 {
		return exitError{code}
	}
	return nil
}

// firstUseDB downloads the vulnerability DB into the data dir when none is
// there, as trivy does on first use, from the repository serve uses; a
// line on stderr says so. A failed download is a warning: trees without
// lockfiles scan without a DB, and the dependencies check says how to get
// one where it is needed.
func firstUseDB(ctx context.Context, stderr io.Writer, dataDir, repo string) {
	dir := registry.DBDir(dataDir)
	if info, err := deps.DBStatus(dir); err != nil || info.Present {
		return
	}
	fmt.Fprintf(stderr, "gatehouse: no vulnerability DB in %s; downloading it (first use, about 1 GB unpacked; --offline skips this)\n", dir)
	if err := deps.UpdateDB(ctx, dir, repo); err != nil {
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return
	}
	fmt.Fprintln(stderr, "gatehouse: vulnerability DB installed")
}

// policyAlias makes --policy and --policy-file one flag, for scan and
// serve alike.
func policyAlias(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if name == "policy" {
		name = "policy-file"
	}
	return pflag.NormalizedName(name)
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "core.hooksPath=/dev/null"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %s", args[0], strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// lazyEngines opens the engines on the first run.
type lazyEngines struct {
	limits checks.Limits
	open   func() (*registry.Set, error)
	once   sync.Once
	set    *registry.Set
	err    error
}

// Set opens the engines if they are not yet.
func (l *lazyEngines) Set() (*registry.Set, error) {
	l.once.Do(func() { l.set, l.err = l.open() })
	return l.set, l.err
}

func (l *lazyEngines) Run(ctx context.Context, req checks.Request) (*checks.Response, error) {
	set, err := l.Set()
	if err != nil {
		return nil, err
	}
	return (&bounded.Runner{Checks: set.Checks, Limits: l.limits}).Run(ctx, req)
}

// Close releases the engines if they were opened.
func (l *lazyEngines) Close() {
	if l.set != nil {
		_ = l.set.Close()
	}
}
