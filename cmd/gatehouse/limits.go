package main

import (
	"fmt"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/checks"
)

// contentFlags are the content limits every scan applies (checks.Limits).
// serve and scan register the same flags, so a change judged by the server
// and by `gatehouse scan` in CI meets the same limits.
type contentFlags struct {
	maxFileSize  string
	checkTimeout time.Duration
}

func (c *contentFlags) register(fs *pflag.FlagSet) {
	envSize(fs, &c.maxFileSize, "max-file-size", "GATEHOUSE_MAX_FILE_SIZE", "", "largest file each scanner reads (e.g. 10MB); larger files are listed as limit hits. Empty: the engines' defaults (secrets 10 MB, iac 10 MiB, dependencies 64 MiB)")
	envDuration(fs, &c.checkTimeout, "check-timeout", "GATEHOUSE_CHECK_TIMEOUT", 5*time.Minute, "longest one check may run inside a scan; past it the check fails with a limit error")
}

// limits parses the flags; within caps the check timeout (0: none).
func (c *contentFlags) limits(within time.Duration) (checks.Limits, error) {
	lim := checks.Limits{CheckTimeout: c.checkTimeout}
	if within > 0 {
		lim.CheckTimeout = min(lim.CheckTimeout, within)
	}
	if c.maxFileSize != "" {
		n, err := humanize.ParseBytes(c.maxFileSize)
		if err != nil || n == 0 || n > 1<<40 {
			return lim, fmt.Errorf("GATEHOUSE_MAX_FILE_SIZE %q: want a size such as 10MB or 512KiB", c.maxFileSize)
		}
		lim.MaxFileSize = int64(n)
	}
	return lim, nil
}
