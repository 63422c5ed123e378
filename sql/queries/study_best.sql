-- The best registered trial of a study so far on one metric (for the progress display), by the
-- chosen trial's rule (sweep.summary.pick_best, first objective): among the trials that met the
-- constraints (COMPLETE in Optuna with no positive `constraints` value) and passed the gate's
-- per-run checks, else those that met the constraints, else those that passed, else those with
-- the least total shortfall (the sum of the positive constraint values).
WITH c AS (
    SELECT e.experiment_id, e.trial_number, (r.metrics ->> %(metric)s)::float AS value,
           coalesce(t.state = 'COMPLETE' AND coalesce(s.shortfall, 0) = 0, false) AS feasible,
           s.shortfall,
           NOT EXISTS (SELECT 1 FROM unnest(r.gate_failures) AS f
                       WHERE f NOT LIKE 'dsr %%' AND f NOT LIKE 'pbo %%') AS passed
    FROM model_results r
    JOIN experiments e USING (experiment_id)
    JOIN studies st ON st.study_name = e.study_name
    LEFT JOIN trials t ON t.study_id = st.study_id AND t.number = e.trial_number
    LEFT JOIN LATERAL (
        SELECT sum(greatest(v::float, 0)) AS shortfall
        FROM trial_system_attributes a, json_array_elements_text(a.value_json::json) AS v
        WHERE a.trial_id = t.trial_id AND a.key = 'constraints'
    ) s ON true
    WHERE e.study_name = %(study_name)s AND r.status = 'ok' AND NOT r.holdout AND NOT r.refit
)
SELECT experiment_id, value, feasible
FROM c
ORDER BY feasible AND passed DESC, feasible DESC, passed DESC,
         CASE WHEN NOT feasible AND NOT passed THEN shortfall END ASC NULLS LAST,
         CASE WHEN %(maximize)s THEN value END DESC NULLS LAST,
         value ASC NULLS LAST,
         trial_number
LIMIT 1;
