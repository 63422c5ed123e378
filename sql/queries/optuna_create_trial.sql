-- A new RUNNING trial with its parameters (Optuna's internal representation) and a first
-- heartbeat, in Optuna's tables, numbered as Optuna numbers them (the study's trials before it:
-- %(before)s of them with ids up to %(after)s, given by the caller, plus those counted here).
-- The caller holds the studies row's lock (sql/queries/optuna_lock_study.sql, run just before in
-- the same transaction) besides the study's advisory lock.
-- Times come from the database's clock, in the forms Optuna 5 uses: datetime_start as naive UTC
-- (Optuna converts it to the reader's local time), the heartbeat as now() in the session's time
-- zone, exactly as Optuna's record_heartbeat stores it and its staleness check reads it.
WITH t AS (
    INSERT INTO trials (number, study_id, state, datetime_start)
    SELECT %(before)s + count(*), %(study_id)s, 'RUNNING'::trialstate, now() AT TIME ZONE 'UTC'
    FROM trials WHERE study_id = %(study_id)s AND trial_id > %(after)s
    RETURNING trial_id, number
), p AS (
    INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
    SELECT t.trial_id, n, v, d
    FROM t, unnest(%(names)s::text[], %(values)s::float8[], %(distributions)s::text[]) AS x(n, v, d)
), h AS (
    -- a heartbeat from the start: a RUNNING trial without one is never found stale
    INSERT INTO trial_heartbeats (trial_id, heartbeat) SELECT trial_id, now() FROM t
)
SELECT trial_id, number FROM t;
