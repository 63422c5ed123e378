-- The one index sweep adds to Optuna's tables: a study's trials in id order. A worker's claim reads
-- only the trials above the last id it looked at (sql/queries/optuna_trials_to_mirror.sql,
-- trial_counts_since.sql, optuna_create_trial.sql); with Optuna's own indexes (the primary key,
-- and study_id alone) a prepared statement's generic plan, which does not know that id, scanned
-- every trial of the study instead: 3 ms of server time per trial at 10,000 trials.
-- Run by sweep.store.optuna_tables.ensure_indexes under the schema's advisory lock.
CREATE INDEX IF NOT EXISTS sweep_trials_study_trial ON trials (study_id, trial_id);
