package main

import (
	"archive/tar"
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
	"github.com/gatehouse/gatehouse/checks/format"
	"github.com/gatehouse/gatehouse/checks/iac"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/registry"
)

type scanFlags struct {
	base, formatName, dataDir, policyFile string
	checkNames, customDirs                []string
}

func newScan() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [DIR]",
		Short: "Run the checks and the policy on a directory (or a git range with --base); exit 1 when something blocks",
		Long: `Run gatehouse's checks on DIR (default: the current directory).

With --base REV, secrets are scanned in every commit of REV..HEAD (history,
not only the final tree), and dependency and IaC findings already present at
REV are reported as existing, not blocking.

The policy comes from --policy (or $GATEHOUSE_POLICY_FILE) and DIR's own
.github/gatehouse.yml. --custom-checks DIR adds the custom Rego checks in
DIR (as the server reads them from .github/gatehouse/checks), under the same
rules. Exit codes: 0 nothing blocks, 1 something blocks,
2 usage or internal error.`,
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
	pol, err := scanPolicy(abs, f.policyFile)
	if err != nil {
		return err
	}
	// trivy buffers every log line in its own default logger until told
	// otherwise: take slog's default over before loading the engines.
	log := quietLogger()
	slog.SetDefault(log)
	set, err := registry.New(registry.Options{DataDir: f.dataDir, Logger: log})
	if err != nil {
		return err
	}
	defer set.Close()
	names := registry.Names
	if len(f.checkNames) > 0 {
		names = f.checkNames
	}
	runner := set.Runner()
	target := checks.Target{Dir: abs}
	for _, d := range f.customDirs {
		cc, err := iac.LoadCustomDir(d, checks.OriginRepo)
		if err != nil {
			return fmt.Errorf("--custom-checks: %w", err)
		}
		target.Custom = append(target.Custom, cc...)
	}
	var base policy.Base
	if f.base != "" {
		head, err := gitOut(ctx, abs, "rev-parse", "--verify", "HEAD^{commit}")
		if err != nil {
			return err
		}
		baseRev, err := gitOut(ctx, abs, "rev-parse", "--verify", f.base+"^{commit}")
		if err != nil {
			return fmt.Errorf("--base %s: %w", f.base, err)
		}
		target.HeadRev, target.BaseRev = head, baseRev
		tmp, err := os.MkdirTemp("", "gatehouse-base-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := extractRev(ctx, abs, baseRev, tmp); err != nil {
			return fmt.Errorf("check out base %s: %w", f.base, err)
		}
		var tree []string
		for _, n := range names {
			if n != checks.Secrets {
				tree = append(tree, n)
			}
		}
		if len(tree) > 0 {
			resp, err := runner.Run(ctx, checks.Request{Target: checks.Target{Dir: tmp, Custom: target.Custom}, Checks: tree})
			if err != nil {
				return err
			}
			base = policy.BaseOf(resp.Results...)
		}
	}
	resp, err := runner.Run(ctx, checks.Request{Target: target, Checks: names})
	if err != nil {
		return err
	}
	if f.formatName == "cyclonedx" {
		r := resp.Result(checks.Dependencies)
		if r == nil || r.SBOM == nil {
			return fmt.Errorf("no SBOM: the dependencies check did not complete: %s", resp.Errors[checks.Dependencies])
		}
		_, err := out.Write(r.SBOM)
		return err
	}
	errs := map[string]error{}
	for c, m := range resp.Errors {
		errs[c] = errors.New(m)
	}
	verdicts := policy.Evaluate(policy.Input{Policy: pol, Results: resp.Results, Base: base, Errors: errs, Now: time.Now()})
	rep := &format.Report{
		Target: dir, Base: target.BaseRev, Head: target.HeadRev, ToolVersion: version,
		Results: resp.Results, Verdicts: verdicts, PolicyHash: pol.ShortHash(),
	}
	for _, s := range pol.Sources() {
		rep.PolicySources = append(rep.PolicySources, fmt.Sprintf("%s (%s)", s.Source, s.Name))
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

// scanPolicy merges the defaults, the server file and DIR's own policy file.
func scanPolicy(dir, serverFile string) (*policy.Policy, error) {
	var layers []policy.Layer
	if serverFile != "" {
		f, err := policy.Load(serverFile)
		if err != nil {
			return nil, err
		}
		layers = append(layers, policy.Layer{Source: policy.SourceServer, File: f})
	}
	repoFile := filepath.Join(dir, ".github", "gatehouse.yml")
	if st, err := os.Lstat(repoFile); err == nil && st.Mode().IsRegular() {
		f, err := policy.Load(repoFile)
		if err != nil {
			return nil, err
		}
		layers = append(layers, policy.Layer{Source: policy.SourceRepo, File: f})
	}
	return policy.Resolve(layers...)
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

// extractRev writes the tree of rev into dst with git archive, checking
// every path (no absolute paths, no "..", no links out of dst): the user's
// repository and work tree are left untouched.
func extractRev(ctx context.Context, repo, rev, dst string) error {
	cmd := exec.CommandContext(ctx, "git", "-c", "core.hooksPath=/dev/null", "archive", "--format=tar", rev)
	cmd.Dir = repo
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	tr := tar.NewReader(pipe)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = cmd.Wait()
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			continue
		}
		path := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(fh, tr)
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			// Symlinks and everything else are skipped: never followed.
		}
	}
	return cmd.Wait()
}
