package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestMalformedEnvironmentStopsTheCommand: a GATEHOUSE_* value its flag
// would refuse stops the command, naming the variable, the value and what
// is accepted; the same value as a flag is refused the same way.
func TestMalformedEnvironmentStopsTheCommand(t *testing.T) {
	tests := []struct {
		env, value string
		args       []string
		flag       string
		want       string
	}{
		{"GATEHOUSE_SCAN_TIMEOUT", "10", []string{"serve"}, "--scan-timeout", "want a duration with its unit, such as 90s, 10m or 1h30m"},
		{"GATEHOUSE_CHECK_TIMEOUT", "5", []string{"scan"}, "--check-timeout", "want a duration"},
		{"GATEHOUSE_WORKERS", "abc", []string{"serve"}, "--workers", "want a whole number, such as 4"},
		{"GATEHOUSE_MIRROR_CACHE_MB", "5G", []string{"serve"}, "--mirror-cache-mb", "want a whole number"},
		{"GATEHOUSE_OFFLINE", "yes", []string{"serve"}, "--offline", "want true or false (or 1, 0)"},
		{"GATEHOUSE_LOG_FORMAT", "xml", []string{"serve"}, "--log-format", "want json or text"},
		{"GATEHOUSE_LOG_LEVEL", "loud", []string{"serve"}, "--log-level", "want debug, info, warn or error"},
		{"GATEHOUSE_LOG_LEVEL", "loud", []string{"scan"}, "--log-level", "want debug, info, warn or error"},
		{"GATEHOUSE_ROLE", "both", []string{"serve"}, "--role", "want web, worker or all"},
		{"GATEHOUSE_SANDBOX", "on", []string{"doctor"}, "--sandbox", "want auto, strict or off"},
		{"GATEHOUSE_MAX_FILE_SIZE", "big", []string{"scan"}, "--max-file-size", "want a size such as 10MB or 512KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"/"+tt.args[0], func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			out, code := run(t, tt.args...)
			prefix := tt.env + `="` + tt.value + `": `
			if code != 2 || !strings.Contains(out, prefix+tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant %q", code, out, prefix+tt.want)
			}
		})
		t.Run(tt.flag+"/"+tt.args[0], func(t *testing.T) {
			out, code := run(t, append(tt.args, tt.flag+"="+tt.value)...)
			if code != 2 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant %q", code, out, tt.want)
			}
		})
	}
}

// TestEnvironmentAndFlags: a variable fills a flag the command line left
// alone, through the flag's parser; a flag on the command line wins, even
// over a malformed variable; an empty variable is unset.
func TestEnvironmentAndFlags(t *testing.T) {
	var workers int
	var timeout time.Duration
	var offline bool
	var format string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil },
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd) }}
	envInt(cmd.Flags(), &workers, "workers", "GATEHOUSE_TEST_WORKERS", 2, "")
	envDuration(cmd.Flags(), &timeout, "timeout", "GATEHOUSE_TEST_TIMEOUT", time.Minute, "")
	envBool(cmd.Flags(), &offline, "offline", "GATEHOUSE_TEST_OFFLINE", false, "")
	envChoice(cmd.Flags(), &format, "format", "GATEHOUSE_TEST_FORMAT", "json", []string{"json", "text"}, "")
	t.Setenv("GATEHOUSE_TEST_WORKERS", "abc")
	t.Setenv("GATEHOUSE_TEST_TIMEOUT", "90s")
	t.Setenv("GATEHOUSE_TEST_OFFLINE", "TRUE")
	t.Setenv("GATEHOUSE_TEST_FORMAT", "")
	cmd.SetArgs([]string{"--workers", "5"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if workers != 5 || timeout != 90*time.Second || !offline || format != "json" {
		t.Errorf("workers %d, timeout %s, offline %v, format %q", workers, timeout, offline, format)
	}
}

func TestAgeTextIsNeverNegative(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-3 * time.Hour:   "less than an hour ago",
		10 * time.Minute: "less than an hour ago",
		26 * time.Hour:   "26h0m0s ago",
	} {
		if got := ageText(d); got != want {
			t.Errorf("ageText(%s) = %q, want %q", d, got, want)
		}
	}
}
