-- One fold's score (Optuna's trial.report) stored as Optuna stores it, in one statement instead
-- of the ORM's round trips; like Optuna's own storage, only while the trial is RUNNING (no row
-- returned: the trial was failed as stale elsewhere, and its worker stops it).
INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
SELECT t.trial_id, %(step)s, %(value)s, %(kind)s::trialintermediatevaluetype
FROM trials t
WHERE t.trial_id = %(trial_id)s AND t.state = 'RUNNING'
ON CONFLICT (trial_id, step) DO UPDATE
    SET intermediate_value = EXCLUDED.intermediate_value,
        intermediate_value_type = EXCLUDED.intermediate_value_type
RETURNING trial_id;
