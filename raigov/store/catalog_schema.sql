-- The catalog: small, transactional state. Predictions and feedback live in the lake.
-- Every statement is idempotent; raigov.catalog applies this file once per process.
CREATE TABLE IF NOT EXISTS models (
    name          VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    output_kind   VARCHAR NOT NULL,          -- binary | multiclass | regression
    spec          JSON NOT NULL,             -- the full ModelSpec (schema, sensitive, card, config)
    spec_sha256   VARCHAR NOT NULL,
    tags          VARCHAR[] NOT NULL,
    PRIMARY KEY (name, version)
);

-- Kill switch: the latest row per (name, version) wins; history is kept.
CREATE TABLE IF NOT EXISTS model_status (
    name      VARCHAR NOT NULL,
    version   INTEGER,                       -- NULL: every version of the model
    enabled   BOOLEAN NOT NULL,
    reason    VARCHAR,
    actor     VARCHAR NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger (
    seq        BIGINT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL,
    kind       VARCHAR NOT NULL,
    actor      VARCHAR NOT NULL,
    subject    VARCHAR NOT NULL,
    payload    JSON NOT NULL,
    prev_hash  VARCHAR NOT NULL,
    hash       VARCHAR NOT NULL
);

-- Monitor results: one tidy row per metric, segment and window.
CREATE TABLE IF NOT EXISTS metric_rows (
    model         VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    window_start  TIMESTAMPTZ NOT NULL,
    window_end    TIMESTAMPTZ NOT NULL,
    family        VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    segment       VARCHAR NOT NULL,          -- 'all', 'sex=Female', 'sex=Female&race=Black'
    value         DOUBLE,
    ci_low        DOUBLE,
    ci_high       DOUBLE,
    n             BIGINT,
    status        VARCHAR NOT NULL,          -- ok | insufficient_data | error
    details       JSON,
    run_id        VARCHAR NOT NULL,
    computed_at   TIMESTAMPTZ NOT NULL
);

-- Which windows were computed, and on how many rows and labels (the runner's memory).
CREATE TABLE IF NOT EXISTS monitor_windows (
    model         VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    window_start  TIMESTAMPTZ NOT NULL,
    window_end    TIMESTAMPTZ NOT NULL,
    rows          BIGINT NOT NULL,
    labelled_rows BIGINT NOT NULL,
    run_id        VARCHAR NOT NULL,
    computed_at   TIMESTAMPTZ NOT NULL,
    label_corrections BIGINT NOT NULL DEFAULT 0,   -- corrections seen when computed
    PRIMARY KEY (model, version, window_start)
);
-- catalogs made before label corrections existed
ALTER TABLE monitor_windows ADD COLUMN IF NOT EXISTS label_corrections BIGINT DEFAULT 0;

-- Policy findings as evaluated: one row per rule, segment and window (policies.alerts).
CREATE TABLE IF NOT EXISTS findings (
    finding_id     VARCHAR PRIMARY KEY,      -- UUIDv7
    model          VARCHAR NOT NULL,
    version        INTEGER,
    window_start   TIMESTAMPTZ,              -- NULL: not a monitoring window (a data file)
    window_end     TIMESTAMPTZ,
    policy         VARCHAR NOT NULL,
    policy_version INTEGER NOT NULL,
    policy_sha256  VARCHAR NOT NULL,
    rule_id        VARCHAR NOT NULL,
    metric         VARCHAR NOT NULL,
    segment        VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,         -- pass | fail | insufficient_data | waived | error
    severity       VARCHAR NOT NULL,         -- info | warning | critical
    observed       DOUBLE,
    judged         DOUBLE,
    judge          VARCHAR NOT NULL,         -- point | ci_bound
    op             VARCHAR,
    threshold      DOUBLE,
    ci_low         DOUBLE,
    ci_high        DOUBLE,
    n              BIGINT,
    groups         JSON NOT NULL,
    reason         VARCHAR NOT NULL,
    waiver         JSON,
    refs           VARCHAR[] NOT NULL,       -- the policy's references
    alert_id       VARCHAR,                  -- the alert this finding opened or touched
    actor          VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    evaluated_at   TIMESTAMPTZ NOT NULL
);

-- Alerts: at most one open or acknowledged alert per (model, policy, rule_id, segment).
CREATE TABLE IF NOT EXISTS alerts (
    alert_id          VARCHAR PRIMARY KEY,   -- UUIDv7
    model             VARCHAR NOT NULL,
    version           INTEGER,               -- the version last seen failing
    policy            VARCHAR NOT NULL,
    rule_id           VARCHAR NOT NULL,
    rule_key          VARCHAR NOT NULL,      -- 'policy/rule_id'
    metric            VARCHAR NOT NULL,
    segment           VARCHAR NOT NULL,
    severity          VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,      -- open | acknowledged | resolved
    reason            VARCHAR NOT NULL,      -- the last failing finding's reason
    observed          DOUBLE,
    threshold         DOUBLE,
    opened_at         TIMESTAMPTZ NOT NULL,
    opened_by         VARCHAR NOT NULL,
    first_window_start TIMESTAMPTZ,
    first_window_end   TIMESTAMPTZ,
    last_seen_window_start TIMESTAMPTZ,      -- the last failing window
    last_seen_window_end   TIMESTAMPTZ,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    fail_count        INTEGER NOT NULL,      -- failing windows seen
    passing_streak    INTEGER NOT NULL,      -- consecutive passing windows since
    last_pass_window_start TIMESTAMPTZ,
    acknowledged_at   TIMESTAMPTZ,
    acknowledged_by   VARCHAR,
    resolved_at       TIMESTAMPTZ,
    resolved_by       VARCHAR,
    resolution        VARCHAR,               -- manual | auto
    updated_at        TIMESTAMPTZ NOT NULL
);

-- Every alert transition, beside its ledger event (ledger_seq).
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id    VARCHAR NOT NULL,
    transition  VARCHAR NOT NULL,            -- opened | acknowledged | resolved | auto_resolved
    from_status VARCHAR,                     -- NULL for opened
    to_status   VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    comment     VARCHAR,
    changed_at  TIMESTAMPTZ NOT NULL,
    ledger_seq  BIGINT NOT NULL
);

-- Dashboard users (raigov.users): argon2id password hashes, never the password.
CREATE TABLE IF NOT EXISTS users (
    name          VARCHAR PRIMARY KEY,
    role          VARCHAR NOT NULL,          -- viewer | owner | auditor | admin
    password_hash VARCHAR,                   -- argon2id; NULL: signs in through OIDC only
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    VARCHAR NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- API keys of `raigov serve` (raigov.keys): the SHA-256 of each secret, never the token.
CREATE TABLE IF NOT EXISTS api_keys (
    name          VARCHAR PRIMARY KEY,
    key_id        VARCHAR NOT NULL,          -- the token's public part: rgk_<key_id>_<secret>
    secret_sha256 VARCHAR NOT NULL,
    scopes        VARCHAR[] NOT NULL,        -- predict feedback log backfill metrics admin
    models        VARCHAR[],                 -- NULL: every model
    expires_at    TIMESTAMPTZ,               -- NULL: never
    rate_per_s    DOUBLE,                    -- NULL: unlimited
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    VARCHAR NOT NULL,
    revoked_at    TIMESTAMPTZ
);

-- Incremental window discovery (monitors.runner): the fingerprint (manifest generation,
-- file names and sizes) of each lake partition when its windows were last found settled.
CREATE TABLE IF NOT EXISTS lake_scan_state (
    model        VARCHAR NOT NULL,
    window_size  VARCHAR NOT NULL,
    lake_table   VARCHAR NOT NULL,
    day          DATE NOT NULL,
    fingerprint  VARCHAR NOT NULL,
    PRIMARY KEY (model, window_size, lake_table, day)
);

-- Erased predictions (models.erasure): the SHA-256 of each erased id, never the id.
CREATE TABLE IF NOT EXISTS erasures (
    model        VARCHAR NOT NULL,
    id_sha256    VARCHAR NOT NULL,
    erased_at    TIMESTAMPTZ NOT NULL,
    ledger_seq   BIGINT,
    PRIMARY KEY (model, id_sha256)
);

-- Dashboard sign-in throttling (raigov.sign_in_throttle): failures per subject
-- ("name:<casefolded name>" or "address:<client address>"), so a restart does not reset
-- the delay. Bounded: rows older than a day are pruned, and at most 10,000 are kept.
CREATE TABLE IF NOT EXISTS sign_in_failures (
    subject       VARCHAR PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  DOUBLE NOT NULL            -- Unix time (s)
);
