-- The newest head of each pull request the planner has seen, so a scan of
-- an older head does not post its verdict over a newer one.
CREATE TABLE pull_heads (
    repo        TEXT NOT NULL,
    number      INTEGER NOT NULL,
    head_sha    TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (repo, number)
);

-- Scan results per commit, check and engine (engine and data versions in
-- engine_key), so a base commit is scanned once, not on every push.
CREATE TABLE commit_results (
    repo        TEXT NOT NULL,
    sha         TEXT NOT NULL,
    check_name  TEXT NOT NULL,
    engine_key  TEXT NOT NULL,
    result      BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (repo, sha, check_name, engine_key)
);
