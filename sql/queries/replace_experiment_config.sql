-- --force: the experiment keeps its id and earlier results; its config becomes the new one.
UPDATE experiments
SET config = %(config)s, config_hash = %(config_hash)s, symbol = %(symbol)s,
    timeframe = %(timeframe)s, model_type = %(model_type)s, feature_groups = %(feature_groups)s
WHERE experiment_id = %(experiment_id)s;
