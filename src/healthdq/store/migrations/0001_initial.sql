-- healthdq results store, version 1. Placeholders in braces are the backend's types
-- ({json}: JSON or JSONB, {blob}: BLOB or BYTEA, {timestamp}: UTC timestamp).

-- One row per run: what a history list or a dashboard tile needs without parsing the result.
CREATE TABLE runs (
    run_id           TEXT PRIMARY KEY,
    verb             TEXT NOT NULL,            -- check | omop
    dataset          TEXT NOT NULL,            -- the key history and trends group by
    contract         TEXT NOT NULL,
    contract_version TEXT NOT NULL,
    sources          TEXT NOT NULL,            -- locations as given, credentials removed
    engine           TEXT NOT NULL,
    run_date         TEXT NOT NULL,
    started_at       {timestamp} NOT NULL,
    finished_at      {timestamp} NOT NULL,
    stored_at        {timestamp} NOT NULL,
    status           TEXT NOT NULL,            -- passed | failed (a rule failed or errored)
    worst_severity   TEXT,                     -- highest severity among failing rules
    rules            INTEGER NOT NULL,
    passed           INTEGER NOT NULL,
    failed           INTEGER NOT NULL,
    errors           INTEGER NOT NULL,
    not_applicable   INTEGER NOT NULL,
    score            DOUBLE PRECISION,         -- overall (DQMI) score, 0..100, as computed
    score_state      TEXT,                     -- scored | insufficient | not_scored
    scores           {json} NOT NULL,
    masked           BOOLEAN NOT NULL,
    audit_log        TEXT,
    audit_head       TEXT,
    audit_keyed      BOOLEAN,
    healthdq_version TEXT NOT NULL,
    result_schema    TEXT NOT NULL,
    result           TEXT NOT NULL,            -- the RunResult as JSON, exactly as rendered
    result_sha256    TEXT NOT NULL             -- detects a damaged stored result
);
CREATE INDEX runs_by_dataset ON runs (dataset, started_at);

-- One row per rule of a run: rule history without parsing results.
CREATE TABLE rule_results (
    run_id         TEXT NOT NULL,
    position       INTEGER NOT NULL,
    rule_id        TEXT NOT NULL,
    table_name     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    "columns"      TEXT NOT NULL,              -- comma-separated
    category       TEXT,
    dimension      TEXT,
    severity       TEXT NOT NULL,
    status         TEXT NOT NULL,
    violating_rows BIGINT,
    denominator    BIGINT,
    pct_violating  DOUBLE PRECISION,
    message        TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX rule_results_by_rule ON rule_results (rule_id, run_id);

-- One row per RunResult.metrics entry, with the run's dataset and time copied in so that a
-- trend is one indexed range scan of this table.
CREATE TABLE metrics (
    run_id      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    dataset     TEXT NOT NULL,
    started_at  {timestamp} NOT NULL,
    name        TEXT NOT NULL,
    table_name  TEXT,
    column_name TEXT,
    rule_id     TEXT,
    group_key   TEXT,
    value       DOUBLE PRECISION,
    text        TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX metrics_series ON metrics (dataset, name, table_name, column_name, rule_id, group_key, started_at);

-- The files the run rendered (HTML, JSON, JUnit, DQD JSON), byte for byte.
CREATE TABLE outputs (
    run_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    content    {blob} NOT NULL,
    PRIMARY KEY (run_id, name)
);
