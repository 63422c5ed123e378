-- A trial's user attributes in one statement, stored as Optuna stores them (JSON text).
INSERT INTO trial_user_attributes (trial_id, key, value_json)
SELECT %(trial_id)s, k, v FROM unnest(%(keys)s::text[], %(values)s::text[]) AS a(k, v)
ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json;
