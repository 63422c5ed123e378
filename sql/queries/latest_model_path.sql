-- The newest model file registered for an experiment (its latest successful run with a model).
SELECT model_path
FROM model_results
WHERE experiment_id = %(experiment_id)s AND model_path IS NOT NULL
ORDER BY trained_at DESC, id DESC
LIMIT 1;
