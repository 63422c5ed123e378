-- A new RUNNING trial with its parameters (Optuna's internal representation) and a first
-- heartbeat, in Optuna's tables, numbered like Optuna numbers them (the trials before it in the
-- study). The caller holds the study's advisory lock; the studies row is locked too, as Optuna's
-- own trial creation (e.g. re-queueing a stale trial) does, so the two never share a number.
WITH s AS (
    SELECT study_id FROM studies WHERE study_id = %(study_id)s FOR UPDATE
), t AS (
    INSERT INTO trials (number, study_id, state, datetime_start)
    SELECT (SELECT count(*) FROM trials WHERE study_id = s.study_id), s.study_id,
           'RUNNING'::trialstate, %(now)s
    FROM s
    RETURNING trial_id, number
), p AS (
    INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
    SELECT t.trial_id, n, v, d
    FROM t, unnest(%(names)s::text[], %(values)s::float8[], %(distributions)s::text[]) AS x(n, v, d)
), h AS (
    -- a heartbeat from the start: a RUNNING trial without one is never found stale
    INSERT INTO trial_heartbeats (trial_id, heartbeat) SELECT trial_id, %(now)s FROM t
)
SELECT trial_id, number FROM t;
