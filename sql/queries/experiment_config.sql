SELECT config FROM experiments WHERE experiment_id = %(experiment_id)s;
