SELECT config -> 'gate' FROM experiments WHERE experiment_id = %(experiment_id)s;
