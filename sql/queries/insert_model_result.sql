INSERT INTO model_results (experiment_id, model_path, train_from, train_to, test_from, test_to,
                           metrics, gate_passed, gate_failures, status, error, config_hash,
                           feature_names, data_fingerprint, duration_s, code_version, holdout)
VALUES (%(experiment_id)s, %(model_path)s, %(train_from)s, %(train_to)s, %(test_from)s,
        %(test_to)s, %(metrics)s, %(gate_passed)s, %(gate_failures)s, %(status)s, %(error)s,
        %(config_hash)s, %(feature_names)s, %(data_fingerprint)s, %(duration_s)s,
        %(code_version)s, %(holdout)s)
RETURNING id, trained_at;
