-- A study's trials by state, reading only those above %(after)s, the id below which a worker's
-- claims have seen every trial of the study finished (sweep.study.optuna_study.TrialTally). A
-- finished trial never changes state again and trial ids only grow, so the counts below it are
-- kept by the worker, and a claim costs the same at 100 trials as at 10,000 (counting the whole
-- study took 4.5 ms at 10,000).
-- Each row says whether its trials are now settled too: every trial up to the returned upto, the id just
-- below the first trial still RUNNING or WAITING (or the last trial when none is), is finished.
-- New trials get higher ids than any committed one: the studies row's lock orders their inserts
-- (sql/queries/optuna_lock_study.sql), so none can appear below an id already seen.
WITH t AS (
    SELECT trial_id, state
    FROM trials
    WHERE trial_id > %(after)s
      AND study_id = (SELECT study_id FROM studies WHERE study_name = %(study_name)s)
), edge AS (
    SELECT coalesce(min(trial_id) FILTER (WHERE state IN ('RUNNING'::trialstate,
                                                          'WAITING'::trialstate)) - 1,
                    max(trial_id)) AS upto
    FROM t
)
SELECT t.state::text AS state,
       t.trial_id <= edge.upto AS settled,
       count(*) AS n,
       count(*) FILTER (WHERE t.state = 'FAIL'::trialstate AND EXISTS (
           SELECT 1 FROM trial_user_attributes a
           WHERE a.trial_id = t.trial_id AND a.key = %(fail_reason)s)) AS results,
       edge.upto
FROM t, edge
GROUP BY t.state, t.trial_id <= edge.upto, edge.upto;
