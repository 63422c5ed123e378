INSERT INTO trial_values (trial_id, objective, value, value_type)
SELECT %(trial_id)s, o, v, 'FINITE'::trialvaluetype
FROM unnest(%(objectives)s::int[], %(values)s::float8[]) AS x(o, v);
