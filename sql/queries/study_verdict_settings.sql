-- What a study's verdict is judged by: its resolved checks, how DSR's N counts, and the number
-- of its trials that completed (search results, not holdout looks).
SELECT s.verdict_gate, s.count_trials,
       (SELECT count(DISTINCT e.experiment_id)
        FROM experiments e JOIN model_results r USING (experiment_id)
        WHERE e.study_name = s.study_name AND r.status = 'ok' AND NOT r.holdout
              AND NOT r.refit) AS n_completed
FROM sweep_studies s
WHERE s.study_name = %(study_name)s;
