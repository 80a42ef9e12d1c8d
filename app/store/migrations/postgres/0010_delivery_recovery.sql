-- Deliveries gatehouse asked GitHub to redeliver, by GUID (the
-- X-GitHub-Delivery id), so that no delivery is asked for twice, whichever
-- replica asks. hook_delivery_id is the attempt's id in GitHub's delivery
-- log; requested_ms is Unix milliseconds.
CREATE TABLE redelivery_requests (
    guid             TEXT PRIMARY KEY,
    hook_delivery_id BIGINT NOT NULL,
    event            TEXT NOT NULL,
    requested_ms     BIGINT NOT NULL
);

-- Background tasks that one replica at a time runs (the recovery of missed
-- deliveries): who holds the task until when, and when a pass last
-- completed (the next pass looks back to it).
CREATE TABLE task_leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    until_ms     BIGINT NOT NULL,
    last_done_ms BIGINT NOT NULL DEFAULT 0
);
