package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// CompleteTx commits the handler's last writes and the job's completion
// together, or neither.
func TestCompleteTx(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 2))

		var mu sync.Mutex
		attempts := map[string]int{}
		write := func(id string) func(tx *store.Tx) error {
			return func(tx *store.Tx) error {
				_, err := tx.InsertDelivery(ctx, store.Delivery{ID: id, Event: "test"})
				return err
			}
		}
		// "together": writes and completes, then returns an error, which
		// must not undo the committed completion.
		q.Register("together", func(ctx context.Context, j *queue.Job) error {
			mu.Lock()
			attempts["together"]++
			mu.Unlock()
			if err := j.CompleteTx(ctx, s, write("together-1")); err != nil {
				return err
			}
			return errors.New("after the commit")
		}, queue.KindOptions{MaxAttempts: 3})
		// "rolled-back": the first attempt writes, then its transaction
		// fails; the write must vanish and the job run again.
		q.Register("rolled-back", func(ctx context.Context, j *queue.Job) error {
			mu.Lock()
			attempts["rolled-back"]++
			n := attempts["rolled-back"]
			mu.Unlock()
			return j.CompleteTx(ctx, s, func(tx *store.Tx) error {
				if err := write(fmt.Sprintf("rolled-back-%d", n))(tx); err != nil {
					return err
				}
				if n == 1 {
					return errors.New("fails inside the transaction")
				}
				return nil
			})
		}, queue.KindOptions{MaxAttempts: 3})
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"together", "rolled-back"} {
			if err := q.Enqueue(ctx, k, nil, queue.EnqueueOpts{}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "both jobs to complete", func() bool { return stats(t, q).Completed == 2 })

		mu.Lock()
		defer mu.Unlock()
		if attempts["together"] != 1 || attempts["rolled-back"] != 2 {
			t.Errorf("attempts = %v, want together 1 (its later error ignored), rolled-back 2", attempts)
		}
		for id, want := range map[string]bool{"together-1": true, "rolled-back-1": false, "rolled-back-2": true} {
			_, err := s.GetDelivery(ctx, id)
			if got := err == nil; got != want {
				t.Errorf("row %s stored = %v (err %v), want %v", id, got, err, want)
			}
		}
		if st := stats(t, q); st.Retryable != 0 || st.Discarded != 0 || st.Running != 0 {
			t.Errorf("Stats = %+v", st)
		}
	})
}
