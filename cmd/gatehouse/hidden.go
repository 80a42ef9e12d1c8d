package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// hiddenCommands are internal subcommands (the sandbox child).
func hiddenCommands() []*cobra.Command { return []*cobra.Command{newSandboxChild()} }

// newSandboxChild is the process the sandbox starts for each scan: it is
// configured by its parent on stdin, hardens itself, loads the engines,
// serves exactly one job and exits. It is not meant to be run by hand.
func newSandboxChild() *cobra.Command {
	return &cobra.Command{
		Use:    sandbox.ChildCommand,
		Short:  "Serve one sandboxed scan (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sandbox.ServeChild(cmd.Context(), loadEngines)
		},
	}
}

// loadEngines is the child's engine loader: the same registry the
// in-process runner uses, and trivy's lines in the child's log as the
// CLI's are in its own.
func loadEngines(_ context.Context, opts sandbox.LoadOptions, log *slog.Logger) ([]checks.Check, func() error, error) {
	deps.RouteLogs(log)
	set, err := registry.New(registry.Options{DataDir: opts.DataDir, MaxFileSize: opts.MaxFileSize, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return set.Checks, set.Close, nil
}

// quietLogger keeps the engines' logs off a CLI user's terminal unless
// --log-level (GATEHOUSE_LOG_LEVEL) asks for them.
func quietLogger(level string) *slog.Logger {
	return newLogger("text", level)
}
