-- One result row and, when given, its daily return series and timing scores, in one statement.
WITH r AS (
    INSERT INTO model_results (experiment_id, model_path, train_from, train_to, test_from,
                               test_to, metrics, gate_passed, gate_failures, status, error,
                               config_hash, feature_names, data_fingerprint, duration_s,
                               cpu_s, code_version, holdout, refit, artifacts, role, robust_of)
    VALUES (%(experiment_id)s, %(model_path)s, %(train_from)s, %(train_to)s, %(test_from)s,
            %(test_to)s, %(metrics)s, %(gate_passed)s, %(gate_failures)s, %(status)s, %(error)s,
            %(config_hash)s, %(feature_names)s, %(data_fingerprint)s, %(duration_s)s,
            %(cpu_s)s, %(code_version)s, %(holdout)s, %(refit)s, %(artifacts)s, %(role)s,
            %(robust_of)s)
    RETURNING id, trained_at
), x AS (
    INSERT INTO result_returns (result_id, first_day, n_days, encoding, data)
    SELECT id, %(first_day)s::date, %(n_days)s::int, %(encoding)s::text, %(data)s::bytea
    FROM r
    WHERE %(n_days)s::int IS NOT NULL
), t AS (
    INSERT INTO result_timing (result_id, objective, draws, encoding, data)
    SELECT id, %(timing_objective)s::text, %(timing_draws)s::int, %(timing_encoding)s::text,
           %(timing_data)s::bytea
    FROM r
    WHERE %(timing_draws)s::int IS NOT NULL
)
SELECT id, trained_at FROM r;
