// Command intake measures gatehouse's webhook intake on loopback, open
// loop: signed deliveries of an event gatehouse stores (issue_comment by
// default) leave at their scheduled times whatever the answers do, and each
// latency is counted from the scheduled time, so a stalled server shows as
// latency rather than as a slower sender. On SQLite the server is serve's
// default, the all role: its workers plan each stored delivery as it comes
// (a plain comment is planned without a call to GitHub; the app is
// configured against a fake GitHub), sharing the one SQLite connection with
// the intake. On Postgres it is a web-role gatehouse (verify, store and
// enqueue; no scanning), or with -replicas N several of them on one
// Postgres, each with its own store (its own pool and intake) as separate
// replicas would be, the deliveries dealt to them in turn (a round-robin
// load balancer). -role overrides either. Afterwards it counts what was
// stored and planned: every acknowledged delivery must be stored, with
// exactly one planning job.
//
//	GOEXPERIMENT=jsonv2 go run ./bench/intake -rate 500 -duration 60s
//	GOEXPERIMENT=jsonv2 go run ./bench/intake -rate 2000 -duration 60s -database-url postgres://postgres@127.0.0.1:5432/test
//	GOEXPERIMENT=jsonv2 go run ./bench/intake -rate 2000 -duration 60s -replicas 2 -database-url postgres://postgres@127.0.0.1:5432/test
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/policysource"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

func main() {
	rate := flag.Int("rate", 500, "deliveries per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	dbURL := flag.String("database-url", "", "empty for SQLite in a temp dir, or postgres://…")
	payloadPath := flag.String("payload", "testdata/webhooks/issue_comment.created.json", "delivery body")
	event := flag.String("event", "", "X-GitHub-Event (default: the payload file's name up to its first dot)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	replicas := flag.Int("replicas", 1, "web replicas on one Postgres, taking the deliveries in turn")
	role := flag.String("role", "", "all (workers planning what is stored) or web; default all on SQLite, web on Postgres")
	flag.Parse()
	if *role == "" {
		*role = server.RoleAll
		if *dbURL != "" {
			*role = server.RoleWeb
		}
	}
	if *role != server.RoleAll && *role != server.RoleWeb {
		fmt.Fprintln(os.Stderr, "intake: -role must be all or web")
		os.Exit(2)
	}
	if *replicas < 1 || (*replicas > 1 && *dbURL == "") {
		fmt.Fprintln(os.Stderr, "intake: -replicas must be 1, or more with -database-url (replicas share a Postgres)")
		os.Exit(2)
	}
	if *event == "" {
		*event, _, _ = strings.Cut(filepath.Base(*payloadPath), ".")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var (
		err error
		ran bool
	)
	// testing.Benchmark gives the fake GitHub the testing.TB it wants,
	// outside go test. It calls the function again while the total is
	// under a second (a short -duration, an early error): only the first
	// call runs.
	testing.Benchmark(func(b *testing.B) {
		if ran {
			return
		}
		ran = true
		err = run(b, *rate, *duration, *dbURL, *payloadPath, *event, *replicas, *role)
		if err == nil && b.Failed() {
			err = errors.New("the fake GitHub failed (see above)")
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(b *testing.B, rate int, duration time.Duration, dbURL, payloadPath, event string, replicas int, role string) error {
	body, err := os.ReadFile(payloadPath)
	if err != nil {
		return err
	}
	secret := []byte("bench-secret")
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	dataDir, err := os.MkdirTemp("", "gatehouse-intake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if dbURL != "" {
		var drop func()
		if dbURL, drop, err = freshSchema(ctx, dbURL); err != nil {
			return err
		}
		defer drop()
	}
	urls := make([]string, replicas)
	done := make(chan error, replicas)
	for r := range replicas {
		dir := dataDir
		if replicas > 1 {
			dir = filepath.Join(dataDir, fmt.Sprint(r))
		}
		cfg := server.Config{
			Addr: "127.0.0.1:0", DataDir: dir, DatabaseURL: dbURL, Role: role,
			WebhookSecrets: [][]byte{secret}, Logger: slog.New(slog.DiscardHandler),
		}
		var srv *server.Server
		if role == server.RoleAll {
			err = configureWork(b, &cfg)
		}
		if err == nil {
			srv, err = server.New(ctx, cfg)
		}
		if err != nil {
			cancel()
			for range r {
				<-done
			}
			return err
		}
		go func() { done <- srv.Run(ctx) }()
		urls[r] = "http://" + srv.Addr() + "/webhooks/github"
	}
	// As many connections as GitHub would open: one per delivery in flight.
	// A write buffer that holds a whole delivery sends it in one write (the
	// default 4 KiB took five, and the server as many reads): the load
	// generator shares the cores with the server it measures.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, WriteBufferSize: len(body) + 4096}, Timeout: 10 * time.Second}
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())

	total := int(float64(rate) * duration.Seconds())
	lat := make([]time.Duration, total)
	acked := make([]bool, total)
	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		lastDone atomic.Int64
		wg       sync.WaitGroup
	)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, urls[i%replicas], bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", event)
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("%s%d", prefix, i))
			req.Header.Set("X-Hub-Signature-256", sig)
			resp, err := client.Do(req)
			var status string
			if err != nil {
				status = "error"
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = fmt.Sprint(resp.StatusCode)
				acked[i] = resp.StatusCode == http.StatusAccepted
			}
			lat[i] = time.Since(at)
			lastDone.Store(max(lastDone.Load(), time.Now().UnixNano()))
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	sent := time.Since(start)
	wg.Wait()
	answered := time.Since(start)
	cancel()
	var errs []error
	for range replicas {
		errs = append(errs, <-done)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ackedIDs := []string{}
	for i, ok := range acked {
		if ok {
			ackedIDs = append(ackedIDs, fmt.Sprintf("%s%d", prefix, i))
		}
	}
	stored, planned, distinct, completed, missing, err := count(dbURL, dataDir, prefix, ackedIDs)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	db := "sqlite"
	if dbURL != "" {
		db = "postgres"
	}
	if replicas > 1 {
		db = fmt.Sprintf("%s, %d replicas", db, replicas)
	}
	db += ", role " + role
	non2xx := 0
	var codes []string
	for s, n := range statuses {
		if !strings.HasPrefix(s, "2") {
			non2xx += n
		}
		codes = append(codes, fmt.Sprintf("%s×%d", s, n))
	}
	slices.Sort(codes)
	fmt.Printf("intake %s %s: offered %d at %d/s (sent in %.1fs), answered %.0f/s — p50 %s p99 %s max %s; non-2xx %d [%s]; acknowledged %d, stored %d, planned %d (distinct %d, completed %d), acknowledged but not stored %d\n",
		db, event, total, rate, sent.Seconds(), float64(total)/answered.Seconds(), pct(0.50), pct(0.99), lat[len(lat)-1].Round(10*time.Microsecond),
		non2xx, strings.Join(codes, " "), len(ackedIDs), stored, planned, distinct, completed, missing)
	if missing > 0 || planned != stored || distinct != stored {
		return fmt.Errorf("acknowledged deliveries lost or planned other than once")
	}
	return nil
}

// configureWork gives cfg what the all role needs: an app (on a fake
// GitHub) and the engines. Planning a plain comment calls neither.
func configureWork(b *testing.B, cfg *server.Config) error {
	fake := githubtest.New(b)
	set, err := registry.New(registry.Options{DataDir: cfg.DataDir, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	b.Cleanup(func() { _ = set.Close() })
	cfg.AppID, cfg.PrivateKey, cfg.GitHubURL = fake.AppID(), fake.PrivateKeyPEM(), fake.URL()
	cfg.Runner, cfg.Checks, cfg.Splitters = set.Runner(), registry.Names, registry.Splitters()
	cfg.Policies = &policysource.Source{}
	return nil
}

// count reads what the run left in the store.
func count(dbURL, dataDir, prefix string, acked []string) (stored, planned, distinct, completed, missing int, err error) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: dbURL, DataDir: dataDir})
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	defer st.Close()
	if stored, planned, distinct, completed, err = st.DeliveryPlanCounts(ctx, jobs.KindDelivery, prefix); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	have, err := st.DeliveryIDsStored(ctx, acked)
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	return stored, planned, distinct, completed, len(acked) - len(have), nil
}

// freshSchema creates an empty schema for the run in the database dbURL
// names and returns a URL that selects it, and a function that drops it:
// each run starts from the same empty store, and leaves nothing behind.
func freshSchema(ctx context.Context, dbURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("gatehouse_bench_intake_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err == nil {
			_, err = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = conn.Close(context.Background())
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "intake: drop schema %s: %v\n", schema, err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
