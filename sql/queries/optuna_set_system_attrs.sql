-- A trial's system attributes in one statement, stored as Optuna stores them (JSON text): sweep
-- writes the trial's constraint values here (key `constraints`, a list, as Optuna's
-- constraints_func path stores them).
INSERT INTO trial_system_attributes (trial_id, key, value_json)
SELECT %(trial_id)s, k, v FROM unnest(%(keys)s::text[], %(values)s::text[]) AS a(k, v)
ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json;
