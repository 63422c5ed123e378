SELECT config_hash FROM experiments WHERE experiment_id = %(experiment_id)s;
