-- The newest head of each pull request the planner has seen, so a scan of
-- an older head does not post its verdict over a newer one.
CREATE TABLE pull_heads (
    repo        TEXT NOT NULL,
    number      BIGINT NOT NULL,
    head_sha    TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo, number)
);

-- Scan results per commit, check and engine (engine and data versions in
-- engine_key), so a base commit is scanned once, not on every push.
CREATE TABLE commit_results (
    repo        TEXT NOT NULL,
    sha         TEXT NOT NULL,
    check_name  TEXT NOT NULL,
    engine_key  TEXT NOT NULL,
    result      BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo, sha, check_name, engine_key)
);
