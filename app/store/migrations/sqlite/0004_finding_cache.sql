-- Content-addressed finding cache: what one check found in one unit of a
-- tree (a file, a Helm chart directory, the set of Terraform files or of
-- dependency manifests), keyed by a hash of the check, its engine, rules
-- and data versions (engine_key), the unit's paths and git object ids, and
-- the ignore files in force. The same content is never scanned twice with
-- the same engine; a new engine or DB version is a new key. Bounded: the
-- oldest rows are deleted past the worker's cap.
CREATE TABLE finding_cache (
    unit_key    TEXT PRIMARY KEY,
    check_name  TEXT NOT NULL,
    engine_key  TEXT NOT NULL,
    result      BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE INDEX finding_cache_created_at ON finding_cache (created_at);
CREATE INDEX finding_cache_engine ON finding_cache (check_name, engine_key);
