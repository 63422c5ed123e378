-- Study metadata. Optuna owns a table named "studies" in the same database, hence the prefix.
CREATE TABLE sweep_studies (
    study_name       TEXT PRIMARY KEY,
    space            JSONB NOT NULL,
    space_hash       TEXT NOT NULL,
    objectives       TEXT[] NOT NULL,
    directions       TEXT[] NOT NULL,
    sampler          TEXT NOT NULL,
    seed             INTEGER,
    pruner           TEXT NOT NULL,
    n_trials_target  INTEGER NOT NULL,
    data_fingerprint JSONB NOT NULL,
    code_version     TEXT NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at         TIMESTAMPTZ,
    status           TEXT NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    n_complete       INTEGER NOT NULL DEFAULT 0,
    n_pruned         INTEGER NOT NULL DEFAULT 0,
    n_failed         INTEGER NOT NULL DEFAULT 0,
    n_running        INTEGER NOT NULL DEFAULT 0,
    best_trial       INTEGER,
    best_experiment_id TEXT,
    stats            JSONB
);
