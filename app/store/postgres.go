package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgDefaultMaxConns replaces pgx's default pool size (the larger of 4 and
// the CPU count): river's listener holds one connection for good, and its
// producer, completer, elector and maintenance services plus the web
// handlers need the rest. A pool_max_conns in the URL wins.
const pgDefaultMaxConns = 10

func openPostgres(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("open postgres: parse database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = pgDefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	log.InfoContext(ctx, "store opened", slog.String("driver", DriverPostgres),
		slog.String("host", cfg.ConnConfig.Host), slog.String("database", cfg.ConnConfig.Database))
	return &Store{
		Queries: Queries{pgxDBTX{pool}},
		driver:  DriverPostgres,
		log:     log,
		pool:    pool,
	}, nil
}
