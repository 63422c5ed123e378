-- Take the oldest re-queued (WAITING) trial of a study: RUNNING from now, as Optuna's
-- set_trial_state_values(RUNNING) does, with a first heartbeat (both times from the database's
-- clock, in the forms of sql/queries/optuna_create_trial.sql); returns its id, number and
-- parameters. One statement on the caller's connection: under the study's lock, a claim never
-- needs a second connection (behind a transaction-mode pooler with every server connection
-- taken by workers waiting for that lock, it would never get one).
WITH w AS (
    SELECT t.trial_id
    FROM trials t
    JOIN studies s ON s.study_id = t.study_id
    WHERE s.study_name = %(study_name)s AND t.state = 'WAITING'::trialstate
    ORDER BY t.trial_id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), u AS (
    UPDATE trials t SET state = 'RUNNING'::trialstate, datetime_start = now() AT TIME ZONE 'UTC'
    FROM w
    WHERE t.trial_id = w.trial_id AND t.state = 'WAITING'::trialstate
    RETURNING t.trial_id, t.number
), h AS (
    INSERT INTO trial_heartbeats (trial_id, heartbeat) SELECT trial_id, now() FROM u
    ON CONFLICT (trial_id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat
)
SELECT u.trial_id, u.number,
       (SELECT json_agg(json_build_array(p.param_name, p.param_value, p.distribution_json))
        FROM trial_params p WHERE p.trial_id = u.trial_id) AS params
FROM u;
