package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/bounded"
	"github.com/gatehouse/gatehouse/checks/format"
	"github.com/gatehouse/gatehouse/checks/iac"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

type scanFlags struct {
	base, formatName, dataDir, policyFile string
	checkNames, customDirs                []string
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
			return runScan(cmd.Context(), cmd.OutOrStdout(), dir, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.base, "base", "", "git revision to compare with (scan REV..HEAD)")
	fs.StringVarP(&f.formatName, "format", "f", "text", "output: text, json, sarif or cyclonedx")
	fs.StringSliceVar(&f.checkNames, "checks", nil, "checks to run (default: all)")
	envString(fs, &f.dataDir, "data-dir", "GATEHOUSE_DATA_DIR", defaultDataDir(), "data directory (vulnerability DB)")
	envString(fs, &f.policyFile, "policy", "GATEHOUSE_POLICY_FILE", "", "server-wide policy file")
	fs.StringSliceVar(&f.customDirs, "custom-checks", nil, "directories of custom Rego checks to run with the iac check (e.g. .github/gatehouse/checks)")
	f.contentFlags.register(fs)
	return cmd
}

func runScan(ctx context.Context, out io.Writer, dir string, f scanFlags) error {
	switch f.formatName {
	case "text", "json", "sarif", "cyclonedx":
	default:
		return fmt.Errorf("--format %q: want text, json, sarif or cyclonedx", f.formatName)
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
	// trivy buffers every log line in its own default logger until told
	// otherwise: take slog's default over before loading the engines.
	log := quietLogger()
	slog.SetDefault(log)
	names := registry.Names
	if len(f.checkNames) > 0 {
		names = f.checkNames
	}
	head := &verdict.DirTree{Dir: abs}
	req := verdict.Request{Head: head, Checks: names, Logger: log}
	// Settings come from the base, as the server reads them from a pull
	// request's base; without one, from the directory.
	var settings verdict.Tree = head
	if f.base != "" {
		headRev, err := gitOut(ctx, abs, "rev-parse", "--verify", "HEAD^{commit}")
		if err != nil {
			return err
		}
		baseRev, err := gitOut(ctx, abs, "rev-parse", "--verify", f.base+"^{commit}")
		if err != nil {
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
	set, err := registry.New(registry.Options{DataDir: f.dataDir, MaxFileSize: lim.MaxFileSize, Logger: log})
	if err != nil {
		return err
	}
	defer set.Close()
	pipeline := verdict.New(verdict.Config{
		Runner: &bounded.Runner{Checks: set.Checks, Limits: lim}, Splitters: registry.Splitters(), Logger: log,
	})
	scanned, err := pipeline.Scan(ctx, req)
	if err != nil {
		return err
	}
	if f.formatName == "cyclonedx" {
		r := scanned.Head.Result(checks.Dependencies)
		if r == nil || r.SBOM == nil {
			return fmt.Errorf("no SBOM: the dependencies check did not complete: %s", scanned.Head.Errors[checks.Dependencies])
		}
		_, err := out.Write(r.SBOM)
		return err
	}
	dec := verdict.Decide(verdict.Input{Scanned: scanned, Policy: pol, PolicyErr: polErr, Now: time.Now()})
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
