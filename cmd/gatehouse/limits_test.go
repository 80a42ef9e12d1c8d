package main

import (
	"strings"
	"testing"
	"time"
)

func TestServeLimits(t *testing.T) {
	for _, tc := range []struct {
		size    string
		check   time.Duration
		want    int64
		wantChk time.Duration
		err     string
	}{
		{size: "", check: 5 * time.Minute, want: 0, wantChk: 5 * time.Minute},
		{size: "10MB", check: 5 * time.Minute, want: 10_000_000, wantChk: 5 * time.Minute},
		{size: "512KiB", check: 20 * time.Minute, want: 512 << 10, wantChk: 10 * time.Minute}, // capped by the scan timeout
		{size: "lots", err: "GATEHOUSE_MAX_FILE_SIZE"},
		{size: "0", err: "GATEHOUSE_MAX_FILE_SIZE"},
	} {
		f := serveFlags{contentFlags: contentFlags{maxFileSize: tc.size, checkTimeout: tc.check}, scanTimeout: 10 * time.Minute}
		lim, err := f.limits()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want one naming %s", tc.size, err, tc.err)
			}
			continue
		}
		if err != nil || lim.MaxFileSize != tc.want || lim.CheckTimeout != tc.wantChk || lim.Timeout != 10*time.Minute {
			t.Errorf("%q: limits = %+v, %v; want MaxFileSize %d, CheckTimeout %s", tc.size, lim, err, tc.want, tc.wantChk)
		}
	}
}
