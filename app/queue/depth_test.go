package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// Depth counts unfinished jobs by kind and state and says how long the
// oldest due job has waited, on both databases; a job scheduled for later
// is not waiting.
func TestDepthByKind(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 0)) // insert only: nothing runs them
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if ds, err := q.Depth(ctx); err != nil || len(ds) != 0 {
			t.Fatalf("empty queue: depth %+v, %v", ds, err)
		}
		for i := range 3 {
			if err := q.Enqueue(ctx, "scan", map[string]int{"i": i}, queue.EnqueueOpts{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Enqueue(ctx, "delivery", map[string]int{"i": 9}, queue.EnqueueOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // so that the oldest has waited a measurable while
		ds, err := q.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 || ds[0].Kind != "delivery" || ds[1].Kind != "scan" {
			t.Fatalf("depth = %+v, want delivery and scan", ds)
		}
		if d := ds[0]; d.Scheduled != 1 || d.Available != 0 || d.OldestWaiting != 0 {
			t.Errorf("delivery = %+v, want one scheduled, none waiting", d)
		}
		if d := ds[1]; d.Available != 3 || d.Running != 0 || d.OldestWaiting <= 0 || d.OldestWaiting > time.Hour {
			t.Errorf("scan = %+v, want three available, the oldest waiting a little", d)
		}
	})
}
