-- Finish a RUNNING trial (COMPLETE, PRUNED or FAIL) with its values, as Optuna's tell does:
-- datetime_complete from the database's clock as naive UTC; a PRUNED trial of a one-objective
-- study without values of its own gets its last reported intermediate value, unless that is NaN.
-- Returns nothing if the trial was not running (failed as stale elsewhere).
WITH f AS (
    UPDATE trials
    SET state = %(state)s::trialstate, datetime_complete = now() AT TIME ZONE 'UTC'
    WHERE trial_id = %(trial_id)s AND state = 'RUNNING'::trialstate
    RETURNING trial_id, study_id
), own AS (
    INSERT INTO trial_values (trial_id, objective, value, value_type)
    SELECT f.trial_id, o, v, k::trialvaluetype
    FROM f, unnest(%(objectives)s::int[], %(values)s::float8[], %(kinds)s::text[]) AS x(o, v, k)
), last_reported AS (
    INSERT INTO trial_values (trial_id, objective, value, value_type)
    SELECT f.trial_id, 0, i.intermediate_value, i.intermediate_value_type::text::trialvaluetype
    FROM f
    JOIN LATERAL (
        SELECT intermediate_value, intermediate_value_type
        FROM trial_intermediate_values
        WHERE trial_id = f.trial_id
        ORDER BY step DESC
        LIMIT 1
    ) i ON true
    WHERE %(state)s = 'PRUNED' AND cardinality(%(values)s::float8[]) = 0
      AND i.intermediate_value_type::text <> 'NAN'
      AND (SELECT count(*) FROM study_directions d WHERE d.study_id = f.study_id) = 1
)
SELECT trial_id FROM f;
