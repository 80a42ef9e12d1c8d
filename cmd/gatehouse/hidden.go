package main

import (
	"log/slog"

	"github.com/spf13/cobra"
)

// hiddenCommands are internal subcommands (the sandbox child).
func hiddenCommands() []*cobra.Command { return nil }

// quietLogger keeps the engines' logs off a CLI user's terminal unless
// GATEHOUSE_LOG_LEVEL asks for them.
func quietLogger() *slog.Logger {
	return newLogger("text", envOr("GATEHOUSE_LOG_LEVEL", "error"))
}
