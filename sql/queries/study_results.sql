-- Every registered trial of a study with its result (latest result row per experiment).
SELECT DISTINCT ON (e.experiment_id)
       e.experiment_id, e.trial_number, r.id AS result_id, r.status, r.error, r.metrics,
       r.gate_passed, r.gate_failures
FROM experiments e
JOIN model_results r USING (experiment_id)
WHERE e.study_name = %(study_name)s AND NOT r.holdout AND NOT r.refit
ORDER BY e.experiment_id, r.id DESC;
