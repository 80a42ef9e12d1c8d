package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/app/setup"
)

func newSetup() *cobra.Command {
	var dataDir, publicURL string
	var reset bool
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Show or forget the GitHub App created through /setup (--reset)",
		Long: "gatehouse serve without an app opens the setup page at /setup, which creates the GitHub App\n" +
			"through GitHub's manifest flow and stores its credentials in the data directory.\n" +
			"setup shows what is stored; setup --reset deletes it, so the next gatehouse serve opens /setup again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			stored, loadErr := setup.Load(dataDir)
			if !reset {
				switch {
				case loadErr != nil:
					return loadErr
				case stored == nil:
					fmt.Fprintf(out, "No GitHub App stored in %s.\nRun gatehouse serve and open %s to create one.\n", dataDir, setupURL(publicURL))
				default:
					fmt.Fprintf(out, "%s stored in %s (created %s).\n", stored, setup.Path(dataDir), stored.CreatedAt.Format("2006-01-02"))
				}
				return nil
			}
			removed, err := setup.Reset(dataDir)
			if err != nil {
				return err
			}
			if !removed {
				fmt.Fprintf(out, "No GitHub App stored in %s: nothing to forget.\n", dataDir)
				return nil
			}
			what := "the stored GitHub App"
			if stored != nil {
				what = stored.String()
			}
			fmt.Fprintf(out, "Forgot %s: deleted %s.\n", what, setup.Path(dataDir))
			fmt.Fprintf(out, "Restart gatehouse serve and open %s to create a new app.\n", setupURL(publicURL))
			fmt.Fprintln(out, "The old app still exists on GitHub: delete it in its settings (Advanced → Delete GitHub App) if you no longer need it.")
			if envOr("GATEHOUSE_APP_ID", "") != "" {
				fmt.Fprintln(out, "Note: GATEHOUSE_APP_ID is set, and the environment configures the app; unset it to use /setup.")
			}
			return nil
		},
	}
	envString(cmd.Flags(), &dataDir, "data-dir", "GATEHOUSE_DATA_DIR", defaultDataDir(), "data directory")
	envString(cmd.Flags(), &publicURL, "public-url", "GATEHOUSE_PUBLIC_URL", "", "URL GitHub and users reach gatehouse at")
	cmd.Flags().BoolVar(&reset, "reset", false, "delete the stored app credentials")
	return cmd
}

// parseAppID reads GATEHOUSE_APP_ID.
func parseAppID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("GATEHOUSE_APP_ID %q: not a positive number", s)
	}
	return id, nil
}
