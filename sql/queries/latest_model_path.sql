-- The newest model registered for an experiment (its latest successful run with a model): the
-- file on the host that trained it, and where its artifacts went (NULL before artifacts).
SELECT model_path, artifacts
FROM model_results
WHERE experiment_id = %(experiment_id)s AND model_path IS NOT NULL
ORDER BY trained_at DESC, id DESC
LIMIT 1;
