package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/checks/verdict"
)

// scanRetention is how long a pull request head's scan is kept for
// approvals: a review months later meets a rescan instead.
const scanRetention = 60 * 24 * time.Hour

// PutScan keeps what a pull request head's scan found (replacing an older
// scan of the same commit) and forgets scans past scanRetention.
func (q Queries) PutScan(ctx context.Context, repo, sha string, scan []byte) error {
	now := time.Now().UTC()
	if _, err := q.db.exec(ctx, `INSERT INTO pull_scans (repo, sha, scan, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (repo, sha) DO UPDATE SET scan = excluded.scan, created_at = excluded.created_at`,
		repo, sha, scan, now); err != nil {
		return fmt.Errorf("keep the scan of %s@%s: %w", repo, sha, err)
	}
	if _, err := q.db.exec(ctx, `DELETE FROM pull_scans WHERE created_at < $1`, now.Add(-scanRetention)); err != nil {
		return fmt.Errorf("prune scans: %w", err)
	}
	return nil
}

// Scan returns the scan kept for a commit, or nil when there is none.
func (q Queries) Scan(ctx context.Context, repo, sha string) ([]byte, error) {
	var b []byte
	err := q.db.queryRow(ctx, `SELECT scan FROM pull_scans WHERE repo = $1 AND sha = $2`, repo, sha).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan of %s@%s: %w", repo, sha, err)
	}
	return b, nil
}

// PutApproval records an approval of a pull request's own suppressions.
func (q Queries) PutApproval(ctx context.Context, repo string, pr int, a verdict.Approval, reviewID int64) error {
	_, err := q.db.exec(ctx, `INSERT INTO suppression_approvals (repo, number, digest, approver, review_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		repo, pr, a.Digest, a.By, reviewID, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("record the approval of %s#%d: %w", repo, pr, err)
	}
	return nil
}

// Approvals returns the approvals recorded on a pull request, oldest first.
func (q Queries) Approvals(ctx context.Context, repo string, pr int) ([]verdict.Approval, error) {
	rows, err := q.db.query(ctx, `SELECT digest, approver FROM suppression_approvals
		WHERE repo = $1 AND number = $2 ORDER BY created_at, approver`, repo, pr)
	if err != nil {
		return nil, fmt.Errorf("approvals of %s#%d: %w", repo, pr, err)
	}
	defer rows.Close()
	var out []verdict.Approval
	for rows.Next() {
		var a verdict.Approval
		if err := rows.Scan(&a.Digest, &a.By); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
