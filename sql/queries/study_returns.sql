-- Daily returns of the latest completed result of every trial of a study.
SELECT DISTINCT ON (e.experiment_id)
       e.experiment_id, e.trial_number, r.id AS result_id, x.first_day, x.n_days, x.encoding,
       x.data
FROM experiments e
JOIN model_results r USING (experiment_id)
JOIN result_returns x ON x.result_id = r.id
WHERE e.study_name = %(study_name)s AND r.status = 'ok' AND NOT r.holdout AND NOT r.refit
ORDER BY e.experiment_id, r.id DESC;
