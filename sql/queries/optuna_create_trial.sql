-- A new RUNNING trial with its parameters (Optuna's internal representation) in Optuna's tables,
-- numbered like Optuna numbers them (the trials before it in the study). Runs under the study's
-- advisory lock, which serialises trial creation.
WITH t AS (
    INSERT INTO trials (number, study_id, state, datetime_start)
    SELECT count(*), %(study_id)s, 'RUNNING'::trialstate, %(now)s
    FROM trials WHERE study_id = %(study_id)s
    RETURNING trial_id, number
), p AS (
    INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
    SELECT t.trial_id, n, v, d
    FROM t, unnest(%(names)s::text[], %(values)s::float8[], %(distributions)s::text[]) AS x(n, v, d)
)
SELECT trial_id, number FROM t;
