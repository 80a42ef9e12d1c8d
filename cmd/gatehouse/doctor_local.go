package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// doctorDatabase opens the store as serve does (which applies pending
// migrations) and pings it.
func doctorDatabase(ctx context.Context, dataDir, dbURL string) line {
	l := line{name: "database"}
	if dbURL == "" {
		l.name = "database (sqlite)"
		if _, err := os.Stat(dataDir); err != nil {
			l.state, l.detail = stateFail, "data directory "+dataDir+": "+err.Error()
			l.fix = "create it (gatehouse serve does), or set GATEHOUSE_DATA_DIR to the directory serve uses"
			return l
		}
	} else {
		l.name = "database (postgres)"
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{URL: dbURL, DataDir: dataDir})
	if err != nil {
		if dbURL == "" && strings.Contains(err.Error(), "in use by another gatehouse process") {
			l.state, l.detail = stateOK, "in use by the running gatehouse serve (its /readyz reports the database)"
			return l
		}
		l.state, l.detail = stateFail, err.Error()
		l.fix = "check GATEHOUSE_DATABASE_URL (host, credentials, database) and that the database is up; gatehouse db migrate applies the schema"
		return l
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		l.state, l.detail, l.fix = stateFail, err.Error(), "check that the database is up"
		return l
	}
	l.state, l.detail = stateOK, "reachable, schema up to date"
	if dbURL == "" {
		l.detail += " (" + dataDir + ")"
	}
	return l
}

// staleDB is when the vulnerability DB is old enough to mention: serve
// refreshes it every 6 hours unless offline, and upstream builds it daily.
const staleDB = 72 * time.Hour

func doctorVulnDB(dataDir string, now time.Time) line {
	l := line{name: "vulnerability DB"}
	dir := registry.DBDir(dataDir)
	info, err := deps.DBStatus(dir)
	switch {
	case err != nil:
		l.state, l.detail, l.fix = stateFail, err.Error(), "gatehouse db update (or gatehouse db import FILE without network)"
	case !info.Present:
		l.state, l.detail = stateFail, "not installed in "+dir+": the dependencies check cannot run"
		l.fix = "gatehouse db update (or gatehouse db import FILE without network); serve downloads it at start unless GATEHOUSE_OFFLINE is set"
	default:
		age := now.Sub(info.UpdatedAt)
		l.state, l.detail = stateOK, fmt.Sprintf("built %s (%s), schema v%d", info.UpdatedAt.UTC().Format("2006-01-02 15:04 MST"), roundAge(age), info.Version)
		if age > staleDB {
			l.state, l.fix = stateWarn, "gatehouse db update; serve refreshes it every 6 hours unless GATEHOUSE_OFFLINE is set"
		}
	}
	return l
}

// roundAge says how old the DB is.
func roundAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d >= 0:
		return plural(int(d/time.Minute), "minute") + " ago"
	}
	return "in the future: check this host's clock"
}

// plural is "1 repository", "2 repositories".
func plural(n int, noun string) string {
	switch {
	case n == 1:
		return "1 " + noun
	case strings.HasSuffix(noun, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// doctorSandbox starts one sandbox child, as serve's sandbox would, and
// reports which isolation layers it got.
func doctorSandbox(ctx context.Context, o doctorOptions) line {
	l := line{name: "sandbox"}
	mode, err := sandbox.ParseMode(o.sandbox)
	if err != nil {
		l.state, l.detail, l.fix = stateFail, err.Error(), "set GATEHOUSE_SANDBOX to auto, strict or off"
		return l
	}
	st, err := o.sandboxStatus(ctx, o.dataDir, mode)
	if err != nil {
		l.state, l.detail = stateFail, err.Error()
		l.fix = "scans cannot run: see the sandbox section of the README (user namespaces, the data directory's permissions)"
		return l
	}
	l.state, l.detail = stateOK, st.String()
	switch {
	case mode == sandbox.ModeOff:
		l.state, l.fix = stateWarn, "GATEHOUSE_SANDBOX=off scans repositories without isolation: use auto or strict"
	case len(st.Missing) > 0 && !st.OK():
		l.state, l.fix = stateFail, "strict mode refuses to scan without every layer: enable them on the host, or use GATEHOUSE_SANDBOX=auto"
	case len(st.Missing) > 0:
		l.state, l.fix = stateWarn, "scans run with fewer walls; enable the missing layers on the host (e.g. unprivileged user namespaces, Landlock)"
	}
	return l
}

// probeSandbox starts a sandbox with no warm children (New starts one
// child to detect the layers) and closes it.
func probeSandbox(ctx context.Context, dataDir string, mode sandbox.Mode) (sandbox.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, err := sandbox.New(ctx, sandbox.Config{Mode: mode, DataDir: dataDir, DBDir: registry.DBDir(dataDir), Pool: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return sandbox.Status{}, err
	}
	defer r.Close()
	return r.Status(), nil
}
