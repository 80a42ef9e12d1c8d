package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// helperEnv makes the test binary act as a second gatehouse process that
// tries to open the data directory named by the variable's value.
const helperEnv = "GATEHOUSE_STORE_TEST_OPEN_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		s, err := store.Open(context.Background(), store.Config{DataDir: dir})
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		_ = s.Close()
		fmt.Println("opened")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDeliveryRoundTrip(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if got := s.Driver(); got != driver {
			t.Fatalf("Driver() = %q, want %q", got, driver)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		received := time.Date(2026, 5, 1, 12, 30, 45, 123456000, time.FixedZone("CEST", 2*3600))
		tests := []struct {
			name string
			d    store.Delivery
		}{
			{"pull request", store.Delivery{ID: "d-1", Event: "pull_request", Action: "opened", InstallationID: 42,
				Repo: "octo/hello", Payload: []byte(`{"action":"opened"}`), ReceivedAt: received}},
			{"no action, binary payload", store.Delivery{ID: "d-2", Event: "push", InstallationID: 1<<53 + 1,
				Repo: "ünï/cödé", Payload: []byte{0, 1, 2, 0xff, 0}, ReceivedAt: received}},
			{"org event, empty payload", store.Delivery{ID: "d-3", Event: "installation", Action: "created",
				Payload: []byte{}, ReceivedAt: received}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				inserted, err := s.InsertDelivery(ctx, tt.d)
				if err != nil || !inserted {
					t.Fatalf("InsertDelivery = %v, %v; want true, nil", inserted, err)
				}
				got, err := s.GetDelivery(ctx, tt.d.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.d
				want.ReceivedAt = want.ReceivedAt.UTC()
				if !got.ReceivedAt.Equal(want.ReceivedAt) || got.ReceivedAt.Location() != time.UTC {
					t.Errorf("ReceivedAt = %v, want %v in UTC", got.ReceivedAt, want.ReceivedAt)
				}
				got.ReceivedAt, want.ReceivedAt = time.Time{}, time.Time{}
				if !bytes.Equal(got.Payload, want.Payload) {
					t.Errorf("Payload = %q, want %q", got.Payload, want.Payload)
				}
				got.Payload, want.Payload = nil, nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("GetDelivery = %+v, want %+v", got, want)
				}
			})
		}

		// A redelivery keeps its id: the second insert changes nothing.
		dup := tests[0].d
		dup.Event, dup.Payload = "changed", []byte("{}")
		inserted, err := s.InsertDelivery(ctx, dup)
		if err != nil || inserted {
			t.Fatalf("duplicate InsertDelivery = %v, %v; want false, nil", inserted, err)
		}
		got, err := s.GetDelivery(ctx, dup.ID)
		if err != nil || got.Event != "pull_request" {
			t.Fatalf("after duplicate: %+v, %v; want the original", got, err)
		}

		if _, err := s.GetDelivery(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetDelivery(missing) error = %v, want ErrNotFound", err)
		}
		if _, err := s.InsertDelivery(ctx, store.Delivery{Event: "push"}); err == nil {
			t.Fatal("InsertDelivery without id succeeded")
		}
	})
}

func TestInTx(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		errBoom := errors.New("boom")
		tests := []struct {
			name    string
			id      string
			fn      func() error
			wantErr error
			panics  bool
			stored  bool
		}{
			{name: "commit", id: "c", fn: func() error { return nil }, stored: true},
			{name: "error rolls back", id: "e", fn: func() error { return errBoom }, wantErr: errBoom},
			{name: "panic rolls back", id: "p", fn: func() error { panic("boom") }, panics: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var (
					err       error
					recovered any
				)
				func() {
					defer func() { recovered = recover() }()
					err = s.InTx(ctx, func(tx *store.Tx) error {
						if ok, err := tx.InsertDelivery(ctx, store.Delivery{ID: tt.id, Event: "push"}); err != nil || !ok {
							return fmt.Errorf("insert in tx: %v %w", ok, err)
						}
						// Visible inside the transaction.
						if _, err := tx.GetDelivery(ctx, tt.id); err != nil {
							return err
						}
						return tt.fn()
					})
				}()
				if (recovered != nil) != tt.panics {
					t.Fatalf("recovered %v, want panic %v", recovered, tt.panics)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("InTx error = %v, want %v", err, tt.wantErr)
				}
				_, gerr := s.GetDelivery(ctx, tt.id)
				if stored := gerr == nil; stored != tt.stored {
					t.Fatalf("stored = %v (%v), want %v", stored, gerr, tt.stored)
				}
			})
		}
		// The pool is usable after a panicking transaction.
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		for i := range 3 {
			s, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("open #%d: %v", i+1, err)
			}
			if _, err := s.InsertDelivery(ctx, store.Delivery{ID: "run-" + strconv.Itoa(i), Event: "push"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		s := storetest.OpenConfig(t, cfg)
		for i := range 3 {
			if _, err := s.GetDelivery(ctx, "run-"+strconv.Itoa(i)); err != nil {
				t.Fatalf("data of run %d lost across reopen: %v", i, err)
			}
		}
		checkMigrationsOnce(t, s)
	})
}

func TestPostgresConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	cfg := storetest.Config(t, store.DriverPostgres)
	const replicas = 3
	var (
		wg     sync.WaitGroup
		stores [replicas]*store.Store
		errs   [replicas]error
		start  = make(chan struct{})
	)
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.Open(ctx, cfg)
		})
	}
	close(start)
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	checkMigrationsOnce(t, stores[0])
}

// checkMigrationsOnce checks that each of our and river's migrations is
// recorded exactly once and river's job table is usable.
func checkMigrationsOnce(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	ours, riverVersions, err := store.MigrationCounts(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rivermigrate.New(riversqlite.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(m.AllVersions()); riverVersions != want {
		t.Errorf("river_migration records %d versions, want %d", riverVersions, want)
	}
	if len(ours) == 0 {
		t.Fatal("no migrations recorded")
	}
	for v, n := range ours {
		if n != 1 {
			t.Errorf("our migration %d recorded %d times", v, n)
		}
	}
	if _, err := s.JobCountsByState(ctx); err != nil {
		t.Fatalf("river's tables missing: %v", err)
	}
}

func TestSQLiteSecondProcessRefused(t *testing.T) {
	cfg := storetest.Config(t, store.DriverSQLite)
	s := storetest.OpenConfig(t, cfg)

	// A second Open in this process is refused too.
	if _, err := store.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "in use by another gatehouse process") {
		t.Fatalf("second Open error = %v, want refusal", err)
	}

	runHelper := func() (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+cfg.DataDir)
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("run second process: %v", err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := runHelper()
	wantMsg := fmt.Sprintf("in use by another gatehouse process (pid %d)", os.Getpid())
	if code != 3 || !strings.Contains(out, wantMsg) || !strings.Contains(out, "Postgres") {
		t.Fatalf("second process: exit %d, output %q; want exit 3 and %q", code, out, wantMsg)
	}

	// Once the first process lets go, the next one opens it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out, code := runHelper(); code != 0 || !strings.Contains(out, "opened") {
		t.Fatalf("after close: exit %d, output %q; want it to open", code, out)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  store.Config
		want string
	}{
		{"unknown scheme", store.Config{URL: "mysql://u:secret@h/db"}, `unsupported database URL scheme "mysql"`},
		{"no data dir", store.Config{}, "no data directory"},
		{"bad postgres url", store.Config{URL: "postgres://u:secret@127.0.0.1:5432/test?sslmode=bogus"}, "parse database URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Open(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}
