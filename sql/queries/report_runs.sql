-- Every result row of one experiment, newest first (holdout evaluations flagged).
SELECT id, experiment_id, status, error, metrics, gate_passed, gate_failures, trained_at,
       train_from, train_to, test_from, test_to, model_path, data_fingerprint, duration_s, cpu_s,
       code_version, holdout, config_hash
FROM model_results
WHERE experiment_id = %(experiment_id)s
ORDER BY id DESC;
