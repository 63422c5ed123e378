-- The model `sweep.load_model(experiment_id)` loads: a model fitted on a trial's whole search
-- part when one is registered (its sealed-holdout run's, or a refit's, newest first), else the
-- newest model of its runs (for a walk-forward trial, its last fold's model). The file on the
-- host that trained it, and where its artifacts went (NULL before artifacts).
SELECT model_path, artifacts
FROM model_results
WHERE experiment_id = %(experiment_id)s AND model_path IS NOT NULL
ORDER BY (holdout OR refit) DESC, trained_at DESC, id DESC
LIMIT 1;
