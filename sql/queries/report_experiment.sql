SELECT experiment_id, config, created_at, config_hash, symbol, timeframe, model_type,
       feature_groups, study_name, trial_number
FROM experiments
WHERE experiment_id = %(experiment_id)s;
