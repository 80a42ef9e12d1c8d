-- What each pull request head's scan found, so an approval of the
-- suppressions a change brings is decided from it without scanning again.
CREATE TABLE pull_scans (
    repo       TEXT NOT NULL,
    sha        TEXT NOT NULL,
    scan       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo, sha)
);
CREATE INDEX pull_scans_created ON pull_scans (created_at);

-- Approvals of the suppressions a pull request brings for its own
-- findings: each applies to one set of suppressions (digest), so a push
-- that changes the set needs a new approval.
CREATE TABLE suppression_approvals (
    repo       TEXT NOT NULL,
    number     BIGINT NOT NULL,
    digest     TEXT NOT NULL,
    approver   TEXT NOT NULL,
    review_id  BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo, number, digest, approver)
);
