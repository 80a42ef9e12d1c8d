package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/registry"
)

func newDB() *cobra.Command {
	var dataDir, repo, dbURL string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the vulnerability database and the store's schema",
	}
	envString(cmd.PersistentFlags(), &dataDir, "data-dir", "GATEHOUSE_DATA_DIR", defaultDataDir(), "data directory")
	update := &cobra.Command{
		Use:   "update",
		Short: "Download the vulnerability database (swapped in atomically)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := registry.DBDir(dataDir)
			if err := deps.UpdateDB(cmd.Context(), dir, repo); err != nil {
				return err
			}
			return printStatus(cmd, dir, false)
		},
	}
	envString(update.Flags(), &repo, "repository", "GATEHOUSE_TRIVY_DB_REPOSITORY", "", "OCI repository of the DB (trivy's default when empty)")
	imp := &cobra.Command{
		Use:   "import FILE|DIR",
		Short: "Import the vulnerability database from db.tar.gz, a directory with trivy.db and metadata.json, or trivy.db itself (air-gapped installs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := registry.DBDir(dataDir)
			if err := deps.ImportDB(cmd.Context(), dir, args[0]); err != nil {
				return err
			}
			return printStatus(cmd, dir, false)
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the vulnerability database's version and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printStatus(cmd, registry.DBDir(dataDir), asJSON)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's schema migrations (SQLite or Postgres) and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store.Open(cmd.Context(), store.Config{URL: dbURL, DataDir: dataDir})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "store migrated (%s)\n", st.Driver())
			return st.Close()
		},
	}
	envString(migrate.Flags(), &dbURL, "database-url", "GATEHOUSE_DATABASE_URL", "", "empty for SQLite in the data dir, or postgres://…")
	cmd.AddCommand(update, imp, status, migrate)
	return cmd
}

func printStatus(cmd *cobra.Command, dir string, asJSON bool) error {
	info, err := deps.DBStatus(dir)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(info)
	}
	if !info.Present {
		fmt.Fprintf(out, "vulnerability database: missing in %s\nrun: gatehouse db update (or gatehouse db import FILE)\n", dir)
		return exitError{1}
	}
	fmt.Fprintf(out, "vulnerability database: %s\n  version:    %d\n  updated at: %s (%s)\n  downloaded: %s\n  size:       %d bytes\n",
		dir, info.Version, info.UpdatedAt.UTC().Format(time.RFC3339), ageText(time.Since(info.UpdatedAt)), info.DownloadedAt.UTC().Format(time.RFC3339), info.Size)
	return nil
}

// ageText says how long ago something happened, never a negative age: a
// date ahead of this host's clock is "just now".
func ageText(d time.Duration) string {
	if d < time.Hour {
		return "less than an hour ago"
	}
	return d.Round(time.Hour).String() + " ago"
}
