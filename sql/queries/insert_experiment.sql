-- Register an experiment; an existing row is kept (its config is compared by the caller).
INSERT INTO experiments (experiment_id, config, config_hash, symbol, timeframe, model_type,
                         feature_groups, study_name, trial_number)
VALUES (%(experiment_id)s, %(config)s, %(config_hash)s, %(symbol)s, %(timeframe)s,
        %(model_type)s, %(feature_groups)s, %(study_name)s, %(trial_number)s)
ON CONFLICT (experiment_id) DO NOTHING
RETURNING experiment_id;
