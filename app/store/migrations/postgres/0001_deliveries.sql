-- Webhook deliveries, one row per X-GitHub-Delivery id. The id is the
-- idempotency key: a redelivery keeps it, so a second insert is a no-op.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event           TEXT NOT NULL,
    action          TEXT NOT NULL DEFAULT '',
    installation_id BIGINT NOT NULL DEFAULT 0,
    repo            TEXT NOT NULL DEFAULT '',
    payload         BYTEA NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL
);

CREATE INDEX deliveries_repo_received_at ON deliveries (repo, received_at);
