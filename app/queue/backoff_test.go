package queue

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	p := &backoffPolicy{base: time.Second, max: time.Minute}
	tests := []struct {
		failures int
		want     time.Duration // before jitter
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{6, 32 * time.Second},
		{7, time.Minute},
		{50, time.Minute},
		{1000, time.Minute},
	}
	for _, tt := range tests {
		for range 20 {
			got := p.delay(tt.failures)
			if lo, hi := tt.want-tt.want/10, tt.want+tt.want/10; got < lo || got > hi {
				t.Fatalf("delay(%d) = %s, want within 10%% of %s", tt.failures, got, tt.want)
			}
		}
	}
}
