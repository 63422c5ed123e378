-- The seed's registry: one row per experiment, one row per run of it.
-- The seed's columns keep the seed's names and types; the rest serve queries users ask
-- (by symbol, timeframe, feature group, study) without unpacking JSON.

CREATE TABLE experiments (
    experiment_id  TEXT PRIMARY KEY,
    config         JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    config_hash    TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    timeframe      TEXT NOT NULL,
    model_type     TEXT NOT NULL,
    feature_groups TEXT[] NOT NULL,
    study_name     TEXT,
    trial_number   INTEGER
);

CREATE INDEX experiments_study_idx ON experiments (study_name, trial_number);
CREATE INDEX experiments_symbol_tf_idx ON experiments (symbol, timeframe);

CREATE TABLE model_results (
    id               SERIAL PRIMARY KEY,
    experiment_id    TEXT NOT NULL REFERENCES experiments (experiment_id),
    model_path       TEXT,
    train_from       TIMESTAMPTZ,
    train_to         TIMESTAMPTZ,
    metrics          JSONB,
    gate_passed      BOOLEAN,
    gate_failures    TEXT[],
    trained_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    status           TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failed', 'pruned')),
    error            TEXT,
    config_hash      TEXT NOT NULL,
    test_from        TIMESTAMPTZ,
    test_to          TIMESTAMPTZ,
    feature_names    TEXT[],
    data_fingerprint JSONB,
    duration_s       DOUBLE PRECISION,
    code_version     TEXT
);

CREATE INDEX model_results_experiment_idx ON model_results (experiment_id);
CREATE INDEX model_results_passed_idx ON model_results (gate_passed);
