// Package sandbox runs gatehouse's checks on untrusted repository content
// in locked-down child processes, never in the calling process.
//
// A Runner re-executes the gatehouse binary with a hidden subcommand
// (ChildCommand, served by ServeChild). Each child is started in new user,
// mount, PID, network, IPC and UTS namespaces as an unprivileged user, with
// a scrubbed environment; it sets no_new_privs, a seccomp filter and
// resource limits, loads the engines, and waits. When a job arrives it
// applies Landlock rules for that job's checkout (read-only checkout and
// vulnerability DB, a private scratch directory, no network) before reading
// a byte of it, scans, answers on stdout and exits: one job per process.
// A small pool keeps children warm so that the engines' start-up is off the
// verdict's critical path.
//
// Every layer is detected at start-up and reported (Runner.Status): strict
// mode refuses to run without all of them, auto mode uses what the host
// offers, off mode is for debugging. docs/security.md has the threat model
// and the tests behind each claim.
package sandbox
