-- Sealed holdout: with walk-forward on, a study never sees the test part. Evaluating a trial on
-- it is recorded as its own result row, flagged, and every distinct trial looked at is counted.
ALTER TABLE model_results ADD COLUMN holdout BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE holdout_looks (
    id            SERIAL PRIMARY KEY,
    study_name    TEXT NOT NULL,
    experiment_id TEXT NOT NULL REFERENCES experiments (experiment_id),
    result_id     INTEGER NOT NULL REFERENCES model_results (id),
    look_number   INTEGER NOT NULL,
    looked_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (study_name, experiment_id),
    UNIQUE (study_name, look_number)
);
