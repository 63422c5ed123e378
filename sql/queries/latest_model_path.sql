-- The model file `sweep.load_model(experiment_id)` loads: a model fitted on a trial's whole
-- search part when one is registered (its sealed-holdout run's, or a refit's, newest first),
-- else the newest model of its runs (for a walk-forward trial, that is its last fold's model).
SELECT model_path
FROM model_results
WHERE experiment_id = %(experiment_id)s AND model_path IS NOT NULL
ORDER BY (holdout OR refit) DESC, trained_at DESC, id DESC
LIMIT 1;
