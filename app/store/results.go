package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SetPullHead records head as the newest head of a pull request, unless a
// delivery received later already recorded another one.
func (q Queries) SetPullHead(ctx context.Context, repo string, number int, head string, receivedAt time.Time) error {
	_, err := q.db.exec(ctx, `INSERT INTO pull_heads (repo, number, head_sha, received_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (repo, number) DO UPDATE SET head_sha = excluded.head_sha, received_at = excluded.received_at
		WHERE pull_heads.received_at <= excluded.received_at`,
		repo, number, head, receivedAt.UTC())
	if err != nil {
		return fmt.Errorf("set head of %s#%d: %w", repo, number, err)
	}
	return nil
}

// PullHead returns the newest recorded head of a pull request ("" if none).
func (q Queries) PullHead(ctx context.Context, repo string, number int) (string, error) {
	var head string
	err := q.db.queryRow(ctx, `SELECT head_sha FROM pull_heads WHERE repo = $1 AND number = $2`, repo, number).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("head of %s#%d: %w", repo, number, err)
	}
	return head, nil
}

// PutCommitResult caches one check's result on a commit.
func (q Queries) PutCommitResult(ctx context.Context, repo, sha, check, engineKey string, result []byte) error {
	_, err := q.db.exec(ctx, `INSERT INTO commit_results (repo, sha, check_name, engine_key, result, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		repo, sha, check, engineKey, result, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("cache %s result of %s@%s: %w", check, repo, sha, err)
	}
	return nil
}

// CommitResult returns a cached result, or nil when there is none.
func (q Queries) CommitResult(ctx context.Context, repo, sha, check, engineKey string) ([]byte, error) {
	var b []byte
	err := q.db.queryRow(ctx, `SELECT result FROM commit_results
		WHERE repo = $1 AND sha = $2 AND check_name = $3 AND engine_key = $4`, repo, sha, check, engineKey).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cached %s result of %s@%s: %w", check, repo, sha, err)
	}
	return b, nil
}
