-- The timing scores of the latest completed search result of every trial of a study.
SELECT DISTINCT ON (e.experiment_id)
       e.experiment_id, t.objective, t.draws, t.encoding, t.data
FROM experiments e
JOIN model_results r USING (experiment_id)
JOIN result_timing t ON t.result_id = r.id
WHERE e.study_name = %(study_name)s AND r.status = 'ok' AND NOT r.holdout AND NOT r.refit
ORDER BY e.experiment_id, r.id DESC;
