package ghclient_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// twoStores opens the same database twice, as two replicas do: on
// Postgres two stores (two connection pools); on SQLite, which admits one
// process per data directory, one store shared by the two limiters.
func twoStores(t *testing.T, driver string) (*store.Store, *store.Store) {
	cfg := storetest.Config(t, driver)
	a := storetest.OpenConfig(t, cfg)
	if driver == store.DriverSQLite {
		return a, a
	}
	return a, storetest.OpenConfig(t, cfg)
}

// Two limiters on one database hand out no more slots of an installation
// than the limit between them, and a slot freed by one can be taken by the
// other.
func TestLimiterSlotsAreShared(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		sa, sb := twoStores(t, driver)
		cfg := ghclient.LimiterConfig{MaxConcurrent: 3, SlotTTL: time.Minute, Logger: slog.New(slog.DiscardHandler)}
		cfg.Store = sa
		a := ghclient.NewLimiter(cfg)
		cfg.Store = sb
		b := ghclient.NewLimiter(cfg)

		// Eight claims race from both limiters: exactly three win.
		type claim struct {
			l      *ghclient.Limiter
			holder string
		}
		var claims []claim
		for i := range 8 {
			l := a
			if i%2 == 1 {
				l = b
			}
			claims = append(claims, claim{l, "job:" + string(rune('a'+i))})
		}
		won := make(chan string, len(claims))
		errs := make(chan error, len(claims))
		for _, c := range claims {
			go func() {
				ok, err := c.l.Acquire(ctx, 42, c.holder)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					won <- c.holder
				} else {
					won <- ""
				}
			}()
		}
		var winners []string
		for range claims {
			select {
			case err := <-errs:
				t.Fatal(err)
			case h := <-won:
				if h != "" {
					winners = append(winners, h)
				}
			}
		}
		if len(winners) != 3 {
			t.Fatalf("%d claims won (%v), want 3", len(winners), winners)
		}
		if n, err := sa.InstallationSlots(ctx, 42); err != nil || n != 3 {
			t.Fatalf("slots = %d, %v; want 3", n, err)
		}
		// Another installation has its own slots.
		if ok, err := b.Acquire(ctx, 43, "job:z"); err != nil || !ok {
			t.Fatalf("installation 43: %v, %v; want a slot", ok, err)
		}
		// A holder reclaims its own slot (a rescued job) even when full.
		if ok, err := b.Acquire(ctx, 42, winners[0]); err != nil || !ok {
			t.Fatalf("holder %s could not reclaim its slot: %v, %v", winners[0], ok, err)
		}
		if ok, _ := b.Acquire(ctx, 42, "job:late"); ok {
			t.Fatal("a fourth slot was granted")
		}
		// One released on a: the other limiter can take it.
		a.Release(ctx, 42, winners[1])
		if ok, err := b.Acquire(ctx, 42, "job:late"); err != nil || !ok {
			t.Fatalf("after a release: %v, %v; want a slot", ok, err)
		}
	})
}

// A slot whose holder died (never released) is freed once it expires.
func TestLimiterSlotExpires(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		st := storetest.OpenConfig(t, cfg)
		l := ghclient.NewLimiter(ghclient.LimiterConfig{Store: st, MaxConcurrent: 1, SlotTTL: time.Hour})
		if ok, err := l.Acquire(ctx, 1, "job:dead"); err != nil || !ok {
			t.Fatalf("first claim: %v, %v", ok, err)
		}
		if ok, _ := l.Acquire(ctx, 1, "job:next"); ok {
			t.Fatal("second claim granted while the first holds the only slot")
		}
		// The hour passes: move the dead holder's expiry into the past.
		storetest.Exec(t, cfg, `UPDATE installation_slots SET expires_ms = expires_ms - 7200000 WHERE holder = 'job:dead'`)
		if ok, err := l.Acquire(ctx, 1, "job:next"); err != nil || !ok {
			t.Fatalf("after the dead holder's slot expired: %v, %v; want the slot", ok, err)
		}
	})
}

// A pause recorded through one limiter is seen by the other, and a shorter
// pause does not cut a longer one.
func TestLimiterPauseIsShared(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		sa, sb := twoStores(t, driver)
		a := ghclient.NewLimiter(ghclient.LimiterConfig{Store: sa, Logger: slog.New(slog.DiscardHandler)})
		b := ghclient.NewLimiter(ghclient.LimiterConfig{Store: sb, Logger: slog.New(slog.DiscardHandler)})
		if until := b.PausedUntil(ctx, 7); !until.IsZero() {
			t.Fatalf("fresh installation paused until %s", until)
		}
		long := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		a.Pause(ctx, 7, long, "primary")
		a.Pause(ctx, 7, time.Now().Add(time.Minute), "secondary")
		c := ghclient.NewLimiter(ghclient.LimiterConfig{Store: sb}) // nothing cached
		if until := c.PausedUntil(ctx, 7); !until.Equal(long) {
			t.Errorf("other replica sees the pause until %s, want %s", until, long)
		}
		if until := c.PausedUntil(ctx, 8); !until.IsZero() {
			t.Errorf("installation 8 paused until %s; pauses are per installation", until)
		}
	})
}

// GitHub's secondary rate limit met by one replica stops the other
// replica's requests for that installation before they reach GitHub; other
// installations are not held back.
func TestSharedRateLimitStopsOtherReplicas(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		fake := githubtest.New(t)
		repo := fake.AddRepo("octo", "demo")
		repo.Commit("main", "init", map[string]string{"a.txt": "a\n"})
		other := fake.AddRepo("acme", "tools")
		other.Commit("main", "init", map[string]string{"a.txt": "a\n"})
		fake.AddInstallation(7, "octo", "octo/demo")
		fake.AddInstallation(8, "acme", "acme/tools")
		sa, sb := twoStores(t, driver)
		urls, err := ghclient.ParseURLs(fake.URL())
		if err != nil {
			t.Fatal(err)
		}
		replica := func(st *store.Store) *ghclient.Factory {
			f, err := ghclient.New(ghclient.Config{
				URLs: urls, AppID: fake.AppID(), PrivateKey: fake.PrivateKeyPEM(), Logger: slog.New(slog.DiscardHandler),
				MaxRateLimitWait: time.Second, RetryBaseDelay: time.Millisecond,
				Limits: ghclient.NewLimiter(ghclient.LimiterConfig{Store: st, Logger: slog.New(slog.DiscardHandler)}),
			})
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		a, b := replica(sa), replica(sb)
		getRepo := func(f *ghclient.Factory, inst int64, owner, name string) error {
			gh, err := f.Installation(inst)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = gh.Repositories.Get(ctx, owner, name)
			return err
		}
		if err := getRepo(a, 7, "octo", "demo"); err != nil {
			t.Fatal(err)
		}
		fake.FailNext(1, http.StatusForbidden, map[string]string{"Retry-After": "600"})
		var rl *ghclient.RateLimitError
		if err := getRepo(a, 7, "octo", "demo"); !errors.As(err, &rl) {
			t.Fatalf("replica a: err = %v, want a RateLimitError", err)
		}
		before := repoCalls(fake, "/repos/octo/demo")
		if err := getRepo(b, 7, "octo", "demo"); !errors.As(err, &rl) || time.Until(rl.Until) < 9*time.Minute {
			t.Fatalf("replica b: err = %v, want a RateLimitError for about 10 minutes", err)
		}
		if after := repoCalls(fake, "/repos/octo/demo"); after != before {
			t.Errorf("replica b called GitHub for the paused installation (%d requests)", after-before)
		}
		if err := getRepo(b, 8, "acme", "tools"); err != nil {
			t.Errorf("installation 8 was held back too: %v", err)
		}
	})
}

func repoCalls(fake *githubtest.Server, path string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Path == path || r.Path == "/api/v3"+path {
			n++
		}
	}
	return n
}
