package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/checks/iac"
)

func newChecks() *cobra.Command {
	cmd := &cobra.Command{Use: "checks", Short: "Write and test custom Rego checks (.github/gatehouse/checks)"}
	test := &cobra.Command{
		Use:   "test DIR",
		Short: "Vet the custom checks in DIR as a scan would and run their *_test.rego tests",
		Long: "Loads the *.rego checks in DIR under the same rules as a scan (refused builtins, METADATA, compile " +
			"errors: each rejected check is listed with its line), then runs the Rego unit tests (*_test.rego) in DIR " +
			"with OPA's test runner, with trivy's libraries and the same restricted capabilities. Exit 1 when a check " +
			"is rejected or a test fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := iac.RunRegoTests(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printTestReport(cmd.OutOrStdout(), rep)
			if rep.Failed() {
				return exitError{1}
			}
			return nil
		},
	}
	var dir string
	var asJSON bool
	explain := &cobra.Command{
		Use:   "explain ID",
		Short: "Print a check's metadata: a built-in trivy check, or a custom check in --dir",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := iac.Explain(args[0], dir)
			if errors.Is(err, iac.ErrNoSuchCheck) {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError{1}
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(info)
			}
			printCheckInfo(out, info)
			return nil
		},
	}
	explain.Flags().StringVar(&dir, "dir", "", "also look for the check among the custom checks in this directory")
	explain.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(test, explain)
	return cmd
}

func printTestReport(w io.Writer, rep *iac.RegoTestReport) {
	for _, c := range rep.Checks {
		if c.Rejected != "" {
			fmt.Fprintf(w, "REJECTED %s: %s\n", c.Location(), c.Rejected)
		} else {
			id := c.ID
			if id == "" {
				id = "library"
			}
			fmt.Fprintf(w, "LOADED   %s (%s)\n", c.Name, id)
		}
	}
	pass, fail, skip := 0, 0, 0
	for _, r := range rep.Results {
		switch {
		case r.Skip:
			skip++
			fmt.Fprintf(w, "SKIP     %s (%s)\n", r.Name, r.Location)
		case r.Pass:
			pass++
			fmt.Fprintf(w, "PASS     %s\n", r.Name)
		default:
			fail++
			msg := "FAIL"
			if r.Error != "" {
				msg = "ERROR: " + r.Error
			}
			fmt.Fprintf(w, "FAIL     %s (%s): %s\n", r.Name, r.Location, msg)
		}
		if out := strings.TrimSpace(r.Output); out != "" && !r.Pass {
			fmt.Fprintf(w, "         %s\n", strings.ReplaceAll(out, "\n", "\n         "))
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", pass, fail, skip)
	if len(rep.Results) == 0 {
		fmt.Fprintln(w, "no tests found: add *_test.rego files next to the checks")
	}
}

func printCheckInfo(w io.Writer, c *iac.CheckInfo) {
	fmt.Fprintf(w, "%s  %s\n", c.ID, c.Title)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k+":", v)
		}
	}
	row("severity", c.Severity)
	row("source", c.Source)
	row("package", c.Package)
	row("aliases", strings.Join(c.Aliases, ", "))
	row("inputs", strings.Join(c.Inputs, ", "))
	row("description", c.Description)
	row("fix", c.RecommendedActions)
	row("references", strings.Join(c.References, " "))
	row("rejected", c.Rejected)
}
