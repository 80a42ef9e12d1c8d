package stopwatch

import (
	"log/slog"
	"testing"
	"time"
)

func TestMarksStepsInOrder(t *testing.T) {
	at := time.Unix(0, 0)
	w := Start(func() time.Time { return at })
	at = at.Add(2 * time.Second)
	w.Mark("fetch")
	at = at.Add(time.Second)
	w.Mark("scan")
	got := w.Attrs()
	want := []slog.Attr{slog.Duration("fetch", 2*time.Second), slog.Duration("scan", time.Second)}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if a := got[i].(slog.Attr); !a.Equal(want[i]) {
			t.Errorf("step %d = %v, want %v", i, a, want[i])
		}
	}
}
