-- Signed attestations of evidence records: each a DSSE envelope (JSON,
-- gzip-compressed) around an in-toto Statement v1 whose subject is the
-- record's commit, one per record and predicate type (the verdict, and the
-- SBOM when the record has one). They are signed when the record is
-- written, in the same transaction, and never re-signed: a rotated key's
-- attestations keep verifying with its public key, which stays listed.
CREATE TABLE evidence_attestations (
    pos            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id      TEXT NOT NULL REFERENCES evidence_records (id),
    predicate_type TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    envelope_gzip  BYTEA NOT NULL,
    UNIQUE (record_id, predicate_type)
);

-- Every public key attestations were signed with (key_id: hex SHA-256 of
-- the DER SubjectPublicKeyInfo; public_key: PEM). A key is added when a
-- process first signs with it and is never removed, so old attestations
-- still verify after a rotation.
CREATE TABLE evidence_signing_keys (
    key_id     TEXT PRIMARY KEY,
    algorithm  TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_at   TIMESTAMPTZ NOT NULL
);

-- evidence_append_only() (0003) refuses the statement whatever it is.
CREATE TRIGGER evidence_attestations_append_only BEFORE UPDATE ON evidence_attestations
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();

CREATE TRIGGER evidence_signing_keys_append_only BEFORE UPDATE OR DELETE ON evidence_signing_keys
    FOR EACH ROW EXECUTE FUNCTION evidence_append_only();
