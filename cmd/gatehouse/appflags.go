package main

import (
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// appFlags are the settings serve and doctor share: where gatehouse keeps
// its data, which role it plays, which GitHub App it is and where GitHub is.
// One definition, so doctor checks exactly what serve would use.
type appFlags struct {
	dataDir, dbURL, role          string
	appID, key, keyPath, secret   string
	githubURL, publicURL, sandbox string
}

// register adds the shared flags, each defaulting to its GATEHOUSE_* variable.
func (a *appFlags) register(fs *pflag.FlagSet) {
	envString(fs, &a.dataDir, "data-dir", "GATEHOUSE_DATA_DIR", defaultDataDir(), "data directory (SQLite store, vulnerability DB, scratch)")
	envString(fs, &a.dbURL, "database-url", "GATEHOUSE_DATABASE_URL", "", "empty for SQLite in the data dir, or postgres://…")
	envChoice(fs, &a.role, "role", "GATEHOUSE_ROLE", server.RoleAll, []string{server.RoleWeb, server.RoleWorker, server.RoleAll}, "web, worker or all")
	envString(fs, &a.appID, "app-id", "GATEHOUSE_APP_ID", "", "GitHub App id")
	envString(fs, &a.key, "private-key", "GATEHOUSE_PRIVATE_KEY", "", "GitHub App private key (PEM)")
	envString(fs, &a.keyPath, "private-key-path", "GATEHOUSE_PRIVATE_KEY_PATH", "", "file with the GitHub App private key")
	envString(fs, &a.secret, "webhook-secret", "GATEHOUSE_WEBHOOK_SECRET", "", "webhook secret")
	envString(fs, &a.githubURL, "github-url", "GATEHOUSE_GITHUB_URL", "https://github.com", "GitHub or GitHub Enterprise Server URL")
	envString(fs, &a.publicURL, "public-url", "GATEHOUSE_PUBLIC_URL", "", "URL GitHub and users reach gatehouse at")
	envChoice(fs, &a.sandbox, "sandbox", "GATEHOUSE_SANDBOX", string(sandbox.ModeAuto), []string{string(sandbox.ModeAuto), string(sandbox.ModeStrict), string(sandbox.ModeOff)}, "auto (every isolation layer the host offers), strict (refuse to scan without all) or off (debugging only)")
}
