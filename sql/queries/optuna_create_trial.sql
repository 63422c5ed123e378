-- A new RUNNING trial in Optuna's tables, numbered like Optuna numbers them (trials before it in
-- the study). Runs under the study's advisory lock, which serialises trial creation.
INSERT INTO trials (number, study_id, state, datetime_start)
SELECT count(*), %(study_id)s, 'RUNNING'::trialstate, %(now)s
FROM trials WHERE study_id = %(study_id)s
RETURNING trial_id, number;
