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
    PRIMARY KEY (model, version, window_start)
);
