-- The best registered trial of a study so far on one metric (for the progress display): among
-- the trials that met the study's constraints (no positive Optuna `constraints:` value on the
-- trial) when any did, as the chosen trial is.
SELECT e.experiment_id, (r.metrics ->> %(metric)s)::float AS value,
       NOT EXISTS (SELECT 1
                   FROM studies s
                   JOIN trials t ON t.study_id = s.study_id AND t.number = e.trial_number
                   JOIN trial_system_attributes a ON a.trial_id = t.trial_id
                   WHERE s.study_name = e.study_name AND a.key LIKE 'constraints:%%'
                     AND a.value_json::float > 0) AS feasible
FROM model_results r
JOIN experiments e USING (experiment_id)
WHERE e.study_name = %(study_name)s AND r.status = 'ok' AND NOT r.holdout
ORDER BY feasible DESC,
         CASE WHEN %(maximize)s THEN (r.metrics ->> %(metric)s)::float END DESC NULLS LAST,
         (r.metrics ->> %(metric)s)::float ASC NULLS LAST
LIMIT 1;
