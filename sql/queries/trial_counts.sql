-- Trials of a study by state, on Optuna's own tables. A FAIL that carries the failure-reason
-- user attribute is a result (FAIL_COUNTED); other FAILs were lost (dead worker, Ctrl-C).
SELECT CASE
         WHEN t.state = 'FAIL' AND EXISTS (
           SELECT 1 FROM trial_user_attributes a
           WHERE a.trial_id = t.trial_id AND a.key = %(fail_reason)s)
         THEN 'FAIL_COUNTED'
         ELSE t.state::text
       END AS state,
       count(*)
FROM trials t
JOIN studies s ON s.study_id = t.study_id
WHERE s.study_name = %(study_name)s
GROUP BY 1;
