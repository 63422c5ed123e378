-- Configurations of a study that were evaluated (completed or pruned): the N of its DSR.
SELECT count(DISTINCT e.experiment_id)
FROM experiments e
JOIN model_results r USING (experiment_id)
WHERE e.study_name = %(study_name)s AND r.status IN ('ok', 'pruned') AND NOT r.holdout
  AND NOT r.refit;
