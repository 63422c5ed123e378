-- The model `sweep predict` uses for an experiment: its newest completed result with a model
-- file. With walk-forward folds (%(folds)s) a search result's model saw only its last fold's
-- training rows, so only a model fitted on the whole search part (the holdout's) or later (a
-- refit) is taken.
SELECT r.id, r.model_path, r.holdout, r.refit, r.train_from, r.train_to, r.test_from
FROM model_results r
WHERE r.experiment_id = %(experiment_id)s AND r.status = 'ok' AND r.model_path IS NOT NULL
  AND (NOT %(folds)s OR r.holdout OR r.refit)
ORDER BY r.id DESC
LIMIT 1;
