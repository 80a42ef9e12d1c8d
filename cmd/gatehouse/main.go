// Command gatehouse is the security gate of a delivery pipeline: a GitHub
// App server (serve) and the same checks on a local directory (scan).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/checks/deps"
)

// exitError carries a process exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile, err := startProfile()
	if err == nil {
		err = newRoot().ExecuteContext(ctx)
		stopProfile()
	}
	stop()
	// trivy makes one temp dir per process; it cannot be reused once
	// removed, so it goes when the process does.
	_ = deps.CleanupTemp()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(2)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "The security gate of your delivery pipeline: secrets, dependencies and IaC checks as a GitHub App",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// GATEHOUSE_* variables are parsed like their flags, for every
		// command, before it runs.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd) },
	}
	root.AddCommand(newServe(), newScan(), newDB(), newPolicy(), newChecks(), newSetup(), newDoctor(), newEvidence(), newVersion())
	root.AddCommand(hiddenCommands()...)
	return root
}
