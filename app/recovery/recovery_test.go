package recovery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/tidwall/sjson"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/recovery"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// receiver is gatehouse's webhook endpoint as GitHub sees it: it records
// the deliveries it gets and answers with status.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req.Header.Get("X-GitHub-Delivery"))
	w.WriteHeader(r.status)
}

func (r *receiver) answer(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func appClient(t *testing.T, fake *githubtest.Server) func() (*github.Client, error) {
	urls, err := ghclient.ParseURLs(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	f, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	return f.App
}

func payload(t *testing.T, name string, action string) []byte {
	b := githubtest.LoadWebhook(t, name)
	if action != "" {
		var err error
		if b, err = sjson.SetBytes(b, "action", action); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func redeliveryRequests(fake *githubtest.Server) []string {
	var out []string
	for _, r := range fake.Requests() {
		if r.OperationID == "apps/redeliver-webhook-delivery" {
			out = append(out, r.Path)
		}
	}
	return out
}

// Deliveries missed while gatehouse was down or refused in a burst are asked
// for again, once each; a delivery that succeeded, one already stored and
// one of an event gatehouse ignores are never asked for.
func TestPassAsksOnceForMissedDeliveries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		fake := githubtest.New(t)
		s := storetest.Open(t, driver)
		secret := []byte("hook-secret")
		recv := &receiver{status: http.StatusAccepted}
		srv := httptest.NewServer(recv)
		t.Cleanup(srv.Close)

		// gatehouse down: nothing listens.
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		fake.SetWebhook(down.URL+"/webhooks/github", secret)
		missed := fake.SendWebhook("pull_request", payload(t, "pull_request.opened", ""))
		ignored := fake.SendWebhook("pull_request", payload(t, "pull_request.closed", ""))
		storedAnyway := fake.SendWebhook("pull_request", payload(t, "pull_request.synchronize", ""))
		if missed.StatusCode != 0 || ignored.StatusCode != 0 {
			t.Fatalf("deliveries to a stopped gatehouse logged with status %d, %d", missed.StatusCode, ignored.StatusCode)
		}
		if _, err := s.InsertDelivery(ctx, store.Delivery{ID: storedAnyway.GUID, Event: "pull_request", Action: "synchronize"}); err != nil {
			t.Fatal(err)
		}
		// gatehouse up, then refusing in a burst.
		fake.SetWebhook(srv.URL, secret)
		ok := fake.SendWebhook("pull_request", payload(t, "pull_request.reopened", ""))
		recv.answer(http.StatusServiceUnavailable)
		refused := fake.SendWebhook("issue_comment", payload(t, "issue_comment.created", ""))
		recv.answer(http.StatusAccepted)

		outcomes := map[string]int{}
		r := recovery.New(recovery.Config{
			Store: s, App: appClient(t, fake), Pace: time.Millisecond, Holder: "replica-a",
			Observe: func(o string) { outcomes[o]++ },
		})
		res, err := r.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(res.Requested)
		want := []string{missed.GUID, refused.GUID}
		slices.Sort(want)
		if !res.Ran || !slices.Equal(res.Requested, want) {
			t.Fatalf("first pass asked for %v (ran %v), want %v", res.Requested, res.Ran, want)
		}
		if outcomes[recovery.OutcomeRequested] != 2 || outcomes[recovery.OutcomeAlreadyStored] != 1 {
			t.Errorf("outcomes %v", outcomes)
		}
		got := recv.received()
		if n := count(got, ok.GUID); n != 1 {
			t.Errorf("the successful delivery arrived %d times, want once (never redelivered)", n)
		}
		// The missed one arrives once (its first attempt found no one), the
		// refused one twice (the 503, then the redelivery).
		if n := count(got, missed.GUID); n != 1 {
			t.Errorf("the missed delivery arrived %d times, want 1", n)
		}
		if n := count(got, refused.GUID); n != 2 {
			t.Errorf("the refused delivery arrived %d times, want 2", n)
		}
		if slices.Contains(got, ignored.GUID) || slices.Contains(got, storedAnyway.GUID) {
			t.Errorf("an ignored or stored delivery was redelivered: %v", got)
		}

		// The next pass finds nothing to ask: the redeliveries succeeded.
		before := len(redeliveryRequests(fake))
		if res, err := r.Pass(ctx); err != nil || len(res.Requested) != 0 {
			t.Fatalf("second pass asked for %v (%v)", res.Requested, err)
		}
		if after := len(redeliveryRequests(fake)); after != before {
			t.Errorf("second pass made %d redelivery requests", after-before)
		}
	})
}

// A delivery whose redelivery failed too is not asked for again: each
// delivery is asked for once, whichever replica asks.
func TestPassNeverAsksTwice(t *testing.T) {
	ctx := context.Background()
	fake := githubtest.New(t)
	s := storetest.Open(t, store.DriverSQLite)
	recv := &receiver{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	fake.SetWebhook(srv.URL, []byte("k"))
	d := fake.SendWebhook("pull_request", payload(t, "pull_request.opened", ""))
	app := appClient(t, fake)
	a := recovery.New(recovery.Config{Store: s, App: app, Pace: time.Millisecond, Holder: "replica-a"})
	b := recovery.New(recovery.Config{Store: s, App: app, Pace: time.Millisecond, Holder: "replica-b"})
	if res, err := a.Pass(ctx); err != nil || len(res.Requested) != 1 {
		t.Fatalf("first pass: %v, %v", res.Requested, err)
	}
	for _, r := range []*recovery.Recoverer{a, b} {
		if res, err := r.Pass(ctx); err != nil || len(res.Requested) != 0 {
			t.Fatalf("later pass asked again: %v, %v", res.Requested, err)
		}
	}
	if n := len(redeliveryRequests(fake)); n != 1 {
		t.Errorf("%d redelivery requests, want 1", n)
	}
	if n := count(recv.received(), d.GUID); n != 2 {
		t.Errorf("delivery arrived %d times, want 2 (first attempt and the one redelivery)", n)
	}
}

// Only one replica at a time reads the log: the other skips its pass.
func TestPassSkipsWhileAnotherReplicaHoldsTheLease(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		fake := githubtest.New(t)
		s := storetest.Open(t, driver)
		if ok, _, err := s.AcquireLease(ctx, "delivery-recovery", "replica-b", time.Minute); err != nil || !ok {
			t.Fatalf("acquire: %v %v", ok, err)
		}
		runs := map[string]int{}
		r := recovery.New(recovery.Config{Store: s, App: appClient(t, fake), Holder: "replica-a", ObserveRun: func(o string) { runs[o]++ }})
		res, err := r.Pass(ctx)
		if err != nil || res.Ran {
			t.Fatalf("pass while another holds the lease: ran %v, %v", res.Ran, err)
		}
		for _, req := range fake.Requests() {
			if req.OperationID == "apps/list-webhook-deliveries" {
				t.Fatal("the delivery log was read without the lease")
			}
		}
		if runs["skipped"] != 1 {
			t.Errorf("runs %v", runs)
		}
		if err := s.ReleaseLease(ctx, "delivery-recovery", "replica-b", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if res, err := r.Pass(ctx); err != nil || !res.Ran {
			t.Fatalf("pass after release: ran %v, %v", res.Ran, err)
		}
		// Its lease released, the other replica may run.
		if ok, _, err := s.AcquireLease(ctx, "delivery-recovery", "replica-b", time.Minute); err != nil || !ok {
			t.Fatalf("acquire after the pass: %v %v", ok, err)
		}
	})
}

// The log is read with cursor pagination back to the look-back.
func TestFailedPagesThroughTheLog(t *testing.T) {
	ctx := context.Background()
	fake := githubtest.New(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	fake.SetWebhook(down.URL, []byte("k"))
	var want []string
	for range 130 {
		want = append(want, fake.SendWebhook("push", payload(t, "push", "")).GUID)
	}
	gh, err := appClient(t, fake)()
	if err != nil {
		t.Fatal(err)
	}
	missed, attempts, err := recovery.Failed(ctx, gh, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 130 || len(missed) != 130 {
		t.Fatalf("read %d attempts, %d missed; want 130 each", attempts, len(missed))
	}
	if missed[0].GUID != want[129] || missed[129].GUID != want[0] {
		t.Error("missed deliveries not newest first")
	}
	if missed, _, _ := recovery.Failed(ctx, gh, time.Now().Add(time.Hour)); len(missed) != 0 {
		t.Errorf("look-back ignored: %d missed", len(missed))
	}
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// logGate is a replica's way to GitHub: it holds the replica's first read
// of the delivery log until released, so that the other replica's pass
// runs while this one's is in progress, and counts the log reads.
type logGate struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	reads            int
}

func newLogGate() *logGate {
	return &logGate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *logGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/app/hook/deliveries") {
		g.mu.Lock()
		g.reads++
		g.mu.Unlock()
		first := false
		g.once.Do(func() { first = true; close(g.entered) })
		if first {
			<-g.release
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (g *logGate) logReads() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reads
}

// Two replicas on one Postgres (two stores, two pools), each running the
// recovery: while one replica's pass is reading the delivery log, the
// other's pass is skipped without reading it; once the first is done, the
// other's next pass runs and asks for nothing the first asked for.
func TestTwoReplicasRecoverOneAtATime(t *testing.T) {
	ctx := context.Background()
	fake := githubtest.New(t)
	cfg := storetest.Config(t, store.DriverPostgres)
	stA, stB := storetest.OpenConfig(t, cfg), storetest.OpenConfig(t, cfg)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	fake.SetWebhook(down.URL, []byte("k"))
	missed := fake.SendWebhook("pull_request", payload(t, "pull_request.opened", ""))

	urls, err := ghclient.ParseURLs(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	replica := func(st *store.Store, holder string, gate *logGate) *recovery.Recoverer {
		f, err := ghclient.New(ghclient.Config{URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Transport: gate})
		if err != nil {
			t.Fatal(err)
		}
		return recovery.New(recovery.Config{Store: st, App: f.App, Pace: time.Millisecond, Holder: holder})
	}
	gateA, gateB := newLogGate(), newLogGate()
	close(gateB.release) // B is never held
	a, b := replica(stA, "replica-a", gateA), replica(stB, "replica-b", gateB)

	type outcome struct {
		res recovery.Result
		err error
	}
	passA := make(chan outcome, 1)
	go func() {
		res, err := a.Pass(ctx)
		passA <- outcome{res, err}
	}()
	select {
	case <-gateA.entered:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("replica A never read the delivery log")
	}
	// A is in the middle of its pass.
	if res, err := b.Pass(ctx); err != nil || res.Ran {
		t.Fatalf("replica B's pass during A's: ran %v, %v; want skipped", res.Ran, err)
	}
	if n := gateB.logReads(); n != 0 {
		t.Fatalf("replica B read the delivery log %d times during A's pass", n)
	}
	close(gateA.release)
	got := <-passA
	if got.err != nil || !got.res.Ran || !slices.Equal(got.res.Requested, []string{missed.GUID}) {
		t.Fatalf("replica A's pass: ran %v, asked for %v (%v); want %s", got.res.Ran, got.res.Requested, got.err, missed.GUID)
	}
	// A released the lease: B's next pass runs, and does not ask again.
	res, err := b.Pass(ctx)
	if err != nil || !res.Ran || len(res.Requested) != 0 {
		t.Fatalf("replica B's pass after A's: ran %v, asked for %v (%v)", res.Ran, res.Requested, err)
	}
	if n := gateB.logReads(); n == 0 {
		t.Error("replica B's pass after A's did not read the delivery log")
	}
	if n := len(redeliveryRequests(fake)); n != 1 {
		t.Errorf("%d redelivery requests from two replicas, want 1", n)
	}
}
