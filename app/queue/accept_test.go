package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func delivery(id string) store.Delivery {
	return store.Delivery{
		ID: id, Event: "pull_request", Action: "opened", InstallationID: 7,
		Repo: "octo/hello", Payload: []byte(`{"action":"opened","number":1}`),
		ReceivedAt: time.Now(),
	}
}

type planArgs struct {
	DeliveryID string `json:"delivery_id"`
	Repo       string `json:"repo"`
}

func TestAcceptDeliveryOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 0)) // insert only: jobs stay put
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}

		d := delivery("dlv-1")
		inserted, err := q.AcceptDelivery(ctx, d, "plan", planArgs{DeliveryID: d.ID, Repo: d.Repo})
		if err != nil || !inserted {
			t.Fatalf("AcceptDelivery = %v, %v; want true, nil", inserted, err)
		}
		// GitHub redelivers with the same id, possibly concurrently.
		var wg sync.WaitGroup
		results := make([]bool, 5)
		errs := make([]error, 5)
		for i := range results {
			wg.Go(func() {
				results[i], errs[i] = q.AcceptDelivery(ctx, d, "plan", planArgs{DeliveryID: d.ID})
			})
		}
		wg.Wait()
		for i := range results {
			if errs[i] != nil || results[i] {
				t.Fatalf("redelivery %d = %v, %v; want false, nil", i, results[i], errs[i])
			}
		}
		if got, err := s.GetDelivery(ctx, d.ID); err != nil || got.Repo != d.Repo {
			t.Fatalf("GetDelivery = %+v, %v", got, err)
		}
		if st := stats(t, q); st.Available != 1 {
			t.Fatalf("Stats = %+v, want exactly one available job", st)
		}

		// The job carries the args as given, and the kind's MaxAttempts.
		got := workOne(t, s, "plan", queue.KindOptions{})
		var a planArgs
		if err := json.Unmarshal(got.Args, &a); err != nil || a != (planArgs{DeliveryID: "dlv-1", Repo: "octo/hello"}) {
			t.Fatalf("job args = %s (%v)", got.Args, err)
		}
		if got.Kind != "plan" || got.Attempt != 1 || got.MaxAttempts != queue.DefaultMaxAttempts {
			t.Fatalf("job = %+v", got)
		}
	})
}

// workOne starts a worker queue for kind and returns the first job it gets.
func workOne(t *testing.T, s *store.Store, kind string, opts queue.KindOptions) *queue.Job {
	t.Helper()
	got := make(chan *queue.Job, 1)
	q := newQueue(t, s, testConfig(t, 1))
	q.Register(kind, func(_ context.Context, j *queue.Job) error {
		select {
		case got <- j:
		default:
		}
		return nil
	}, opts)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case j := <-got:
		return j
	case <-time.After(2 * time.Minute):
		t.Fatal("no job was worked")
		return nil
	}
}

func TestAcceptDeliveryAtomic(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		s := storetest.OpenConfig(t, cfg)
		q := newQueue(t, s, testConfig(t, 0))

		// Break the job insert behind the store's back: the delivery insert
		// before it in the transaction must roll back with it.
		storetest.Exec(t, cfg, "ALTER TABLE river_job RENAME TO river_job_away")
		_, err := q.AcceptDelivery(ctx, delivery("dlv-rollback"), "plan", planArgs{})
		if err == nil {
			t.Fatal("AcceptDelivery succeeded without a job table")
		}
		if _, gerr := s.GetDelivery(ctx, "dlv-rollback"); !errors.Is(gerr, store.ErrNotFound) {
			t.Fatalf("delivery stored although its job was not (insert error %v): %v", err, gerr)
		}
		storetest.Exec(t, cfg, "ALTER TABLE river_job_away RENAME TO river_job")

		// The same delivery goes through once the queue works again.
		inserted, err := q.AcceptDelivery(ctx, delivery("dlv-rollback"), "plan", planArgs{})
		if err != nil || !inserted {
			t.Fatalf("retry AcceptDelivery = %v, %v", inserted, err)
		}
		if st := stats(t, q); st.Available != 1 {
			t.Fatalf("Stats = %+v, want one job", st)
		}
	})
}

func TestAcceptDeliveryRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, store.DriverSQLite)
	q := newQueue(t, s, testConfig(t, 1))
	q.Register("plan", func(context.Context, *queue.Job) error { return nil }, queue.KindOptions{})
	tests := []struct {
		name string
		d    store.Delivery
		kind string
		args any
		want string
	}{
		{"unregistered kind", delivery("a"), "nope", nil, `"nope" is not registered`},
		{"empty kind", delivery("b"), "", nil, "empty job kind"},
		{"unencodable args", delivery("c"), "plan", make(chan int), "encode job args"},
		{"invalid raw JSON", delivery("d"), "plan", json.RawMessage(`{`), "not valid JSON"},
		{"no delivery id", store.Delivery{Event: "push"}, "plan", nil, "empty id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inserted, err := q.AcceptDelivery(ctx, tt.d, tt.kind, tt.args)
			if inserted || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AcceptDelivery = %v, %v; want error containing %q", inserted, err, tt.want)
			}
			if tt.d.ID != "" {
				if _, err := s.GetDelivery(ctx, tt.d.ID); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("delivery stored despite the error: %v", err)
				}
			}
		})
	}
	if st := stats(t, q); st != (queue.Stats{}) {
		t.Fatalf("Stats = %+v, want no jobs", st)
	}
}

func TestEnqueueUnique(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 0))
		future := time.Now().Add(time.Hour)
		steps := []struct {
			kind string
			opts queue.EnqueueOpts
			want queue.Stats
		}{
			{"scan", queue.EnqueueOpts{UniqueKey: "octo/hello@abc"}, queue.Stats{Available: 1}},
			{"scan", queue.EnqueueOpts{UniqueKey: "octo/hello@abc"}, queue.Stats{Available: 1}},
			{"scan", queue.EnqueueOpts{UniqueKey: "octo/hello@def"}, queue.Stats{Available: 2}},
			{"report", queue.EnqueueOpts{UniqueKey: "octo/hello@abc"}, queue.Stats{Available: 3}},
			{"scan", queue.EnqueueOpts{}, queue.Stats{Available: 4}},
			{"scan", queue.EnqueueOpts{}, queue.Stats{Available: 5}},
			{"scan", queue.EnqueueOpts{UniqueKey: "later", ScheduledAt: future}, queue.Stats{Available: 5, Scheduled: 1}},
			{"scan", queue.EnqueueOpts{UniqueKey: "later"}, queue.Stats{Available: 5, Scheduled: 1}},
		}
		for i, st := range steps {
			if err := q.Enqueue(ctx, st.kind, map[string]int{"step": i}, st.opts); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got := stats(t, q); got != st.want {
				t.Fatalf("step %d (%s %+v): Stats = %+v, want %+v", i, st.kind, st.opts, got, st.want)
			}
		}
	})
}

func TestUniqueKeyFreedAfterCompletion(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 1))
		var (
			mu   sync.Mutex
			runs int
		)
		q.Register("scan", func(context.Context, *queue.Job) error {
			mu.Lock()
			runs++
			mu.Unlock()
			return nil
		}, queue.KindOptions{})
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for round := 1; round <= 2; round++ {
			if err := q.Enqueue(ctx, "scan", nil, queue.EnqueueOpts{UniqueKey: "k"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "completion", func() bool { return stats(t, q).Completed == round })
		}
		mu.Lock()
		defer mu.Unlock()
		if runs != 2 {
			t.Fatalf("handler ran %d times, want 2 (a completed job must free its key)", runs)
		}
	})
}
