-- Trials of a study by state, on Optuna's own tables, with how many of its FAILs are results: a
-- FAIL that carries the failure-reason user attribute is one (counted); other FAILs were lost
-- (dead worker, Ctrl-C). Grouped by the state itself and the attribute looked up for FAILs only:
-- every claim runs this, and at 10,000 trials it costs a third of grouping by a computed state.
SELECT t.state::text AS state,
       count(*) AS n,
       count(*) FILTER (WHERE t.state = 'FAIL'::trialstate AND EXISTS (
           SELECT 1 FROM trial_user_attributes a
           WHERE a.trial_id = t.trial_id AND a.key = %(fail_reason)s)) AS results
FROM trials t
WHERE t.study_id = (SELECT study_id FROM studies WHERE study_name = %(study_name)s)
GROUP BY t.state;
