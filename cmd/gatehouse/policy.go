package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/checks/policy"
)

func newPolicy() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Check and explain gatehouse policy files"}
	var serverFile, orgFile, environment string
	var asJSON bool
	explain := &cobra.Command{
		Use:   "explain [DIR]",
		Short: "Print the effective policy for DIR and where each value came from",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			var layers []policy.Layer
			for _, l := range []struct {
				src  policy.Source
				path string
			}{{policy.SourceServer, serverFile}, {policy.SourceOrg, orgFile}} {
				if l.path == "" {
					continue
				}
				f, err := policy.Load(l.path)
				if err != nil {
					return err
				}
				layers = append(layers, policy.Layer{Source: l.src, File: f})
			}
			repo := filepath.Join(dir, ".github", "gatehouse.yml")
			if f, err := policy.Load(repo); err == nil {
				layers = append(layers, policy.Layer{Source: policy.SourceRepo, File: f})
			} else if !isNotExist(err) {
				return err
			}
			p, err := policy.Resolve(layers...)
			if err != nil {
				return err
			}
			overlay := false
			if environment != "" {
				p, overlay = p.Environment(environment)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]any{"hash": p.Hash(), "settings": p.Explain(), "notes": p.Notes()})
			}
			switch {
			case overlay:
				fmt.Fprintf(out, "policy %s for deployments to %s (with environments.%s)\n\n", p.ShortHash(), environment, environment)
			case environment != "":
				fmt.Fprintf(out, "policy %s for deployments to %s (no environments.%s: the repository's policy)\n\n", p.ShortHash(), environment, environment)
			default:
				fmt.Fprintf(out, "policy %s\n\n", p.ShortHash())
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tVALUE\tFROM\tFILE")
			for _, s := range p.Explain() {
				where := s.File
				if s.Line > 0 {
					where = fmt.Sprintf("%s:%d", s.File, s.Line)
				}
				if s.Enforced {
					where += " (enforced by the org)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Key, s.Value, s.Source, where)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, n := range p.Notes() {
				fmt.Fprintln(out, "note:", n)
			}
			return nil
		},
	}
	envString(explain.Flags(), &serverFile, "server-policy", "GATEHOUSE_POLICY_FILE", "", "server-wide policy file")
	explain.Flags().StringVar(&orgFile, "org-policy", "", "the org's policy file (its .github repository's .github/gatehouse.yml)")
	explain.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	explain.Flags().StringVar(&environment, "environment", "", "explain the policy a deployment to this environment is judged by (environments.<name> laid over)")
	check := &cobra.Command{
		Use:   "check FILE...",
		Short: "Validate policy files (for a CI step on the org's .github repository)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, a := range args {
				if _, err := policy.Load(a); err != nil {
					fmt.Fprintln(cmd.OutOrStdout(), err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", a)
			}
			if bad > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.AddCommand(explain, check)
	return cmd
}
