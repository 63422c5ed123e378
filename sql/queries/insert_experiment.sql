-- Register an experiment, or lock its existing row; either way return the stored config hash
-- (the no-op update makes RETURNING give the existing row), so the caller can compare it.
INSERT INTO experiments (experiment_id, config, config_hash, symbol, timeframe, model_type,
                         feature_groups, study_name, trial_number)
VALUES (%(experiment_id)s, %(config)s, %(config_hash)s, %(symbol)s, %(timeframe)s,
        %(model_type)s, %(feature_groups)s, %(study_name)s, %(trial_number)s)
ON CONFLICT (experiment_id) DO UPDATE SET experiment_id = EXCLUDED.experiment_id
RETURNING config_hash;
