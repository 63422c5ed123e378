-- A trial's parameters in one statement, in Optuna's internal representation.
INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
SELECT %(trial_id)s, n, v, d
FROM unnest(%(names)s::text[], %(values)s::float8[], %(distributions)s::text[]) AS p(n, v, d);
