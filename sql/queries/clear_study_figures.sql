-- Remove the study statistics from the other results of the same study as %(result_id)s: only
-- the study's chosen trial carries them (a resumed study may choose another trial).
UPDATE model_results r
SET metrics = r.metrics - 'dsr' - 'pbo' - 'n_trials_study' - 'timing_p_study'
FROM experiments e
WHERE e.experiment_id = r.experiment_id
  AND e.study_name = (SELECT e2.study_name FROM model_results r2
                      JOIN experiments e2 USING (experiment_id) WHERE r2.id = %(result_id)s)
  AND r.id <> %(result_id)s
  AND r.metrics ? 'dsr';
