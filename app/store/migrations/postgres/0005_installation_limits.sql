-- GitHub's limits are per installation, not per process: every replica
-- reads and writes them here. paused_until_ms (Unix milliseconds) is when
-- the installation may be called again after a rate limit; the row is also
-- what concurrent slot claims lock on.
CREATE TABLE installation_limits (
    installation_id BIGINT PRIMARY KEY,
    paused_until_ms BIGINT NOT NULL DEFAULT 0,
    pause_reason    TEXT NOT NULL DEFAULT '',
    updated_ms      BIGINT NOT NULL
);

-- The scans running for an installation, one row per job, so that at most
-- N run at once across replicas. A row whose worker died expires.
CREATE TABLE installation_slots (
    installation_id BIGINT NOT NULL,
    holder          TEXT NOT NULL,
    expires_ms      BIGINT NOT NULL,
    PRIMARY KEY (installation_id, holder)
);
