-- Evidence: one record per verdict, chained per repository. A record is the
-- canonical JSON (RFC 8785) of what the gate knew, stored as the exact bytes
-- that were hashed; hash is their SHA-256 and prev_hash the hash of the
-- repository's previous record, which the JSON also carries. repo is the
-- lower-cased "owner/name"; kind, head_sha, base_sha and decision are copies
-- of the JSON for filtering, checked by verification. pos orders records
-- across repositories (API cursors and exports).
CREATE TABLE evidence_records (
    pos        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    repo       TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    head_sha   TEXT NOT NULL,
    base_sha   TEXT NOT NULL DEFAULT '',
    decision   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    record     BYTEA NOT NULL,
    hash       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    UNIQUE (repo, seq)
);

CREATE INDEX evidence_records_repo_pos ON evidence_records (repo, pos);
CREATE INDEX evidence_records_repo_sha ON evidence_records (repo, head_sha);
CREATE INDEX evidence_records_created_at ON evidence_records (created_at);

-- The CycloneDX SBOM of a record's commit, gzip-compressed; the record
-- carries the SHA-256 of the uncompressed document.
CREATE TABLE evidence_sboms (
    record_id TEXT PRIMARY KEY REFERENCES evidence_records (id),
    sbom_gzip BYTEA NOT NULL
);

-- Each repository's chain: its newest record (head) and, once retention
-- pruned the oldest records, the last pruned one (anchor), which the oldest
-- remaining record must follow.
CREATE TABLE evidence_chains (
    repo        TEXT PRIMARY KEY,
    head_seq    BIGINT NOT NULL DEFAULT 0,
    head_hash   TEXT NOT NULL DEFAULT '',
    anchor_seq  BIGINT NOT NULL DEFAULT 0,
    anchor_hash TEXT NOT NULL DEFAULT ''
);

-- Every retention prune, so a shortened chain says when and why it starts
-- where it does.
CREATE TABLE evidence_prunes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo        TEXT NOT NULL,
    through_seq BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL,
    records     BIGINT NOT NULL,
    pruned_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX evidence_prunes_repo ON evidence_prunes (repo, id);

-- The key evidence ids are derived with (HMAC), created once per database.
CREATE TABLE evidence_keys (
    name TEXT PRIMARY KEY,
    key  BYTEA NOT NULL
);

-- Records, SBOMs and prunes are append-only: no statement may change one
-- (retention deletes from the oldest end; nothing updates).
CREATE FUNCTION evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence % rows are append-only', TG_TABLE_NAME;
END
$$;

CREATE TRIGGER evidence_records_append_only BEFORE UPDATE ON evidence_records
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();

CREATE TRIGGER evidence_sboms_append_only BEFORE UPDATE ON evidence_sboms
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();

CREATE TRIGGER evidence_prunes_append_only BEFORE UPDATE ON evidence_prunes
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();
