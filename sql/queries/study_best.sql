-- The best registered trial of a study so far on one metric (for the progress display).
SELECT e.experiment_id, (r.metrics ->> %(metric)s)::float AS value
FROM model_results r
JOIN experiments e USING (experiment_id)
WHERE e.study_name = %(study_name)s AND r.status = 'ok' AND NOT r.holdout
ORDER BY CASE WHEN %(maximize)s THEN (r.metrics ->> %(metric)s)::float END DESC NULLS LAST,
         (r.metrics ->> %(metric)s)::float ASC NULLS LAST
LIMIT 1;
