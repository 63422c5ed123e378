-- Remove the study statistics (and their gate failures) from the other results of the same
-- study as %(result_id)s: only the study's chosen trial carries them.
UPDATE model_results r
SET metrics = r.metrics - 'dsr' - 'pbo' - 'n_trials_study',
    gate_failures = ARRAY(SELECT f FROM unnest(r.gate_failures) WITH ORDINALITY AS u(f, i)
                          WHERE f NOT LIKE 'dsr %%' AND f NOT LIKE 'pbo %%' ORDER BY i),
    gate_passed = (r.status = 'ok' AND NOT EXISTS (
                       SELECT 1 FROM unnest(r.gate_failures) AS u(f)
                       WHERE f NOT LIKE 'dsr %%' AND f NOT LIKE 'pbo %%'))
FROM experiments e
WHERE e.experiment_id = r.experiment_id
  AND e.study_name = (SELECT e2.study_name FROM model_results r2
                      JOIN experiments e2 USING (experiment_id) WHERE r2.id = %(result_id)s)
  AND r.id <> %(result_id)s
  AND r.metrics ? 'dsr';
