-- What changed in a study since a worker's in-memory sampler study last looked, read from Optuna's
-- own tables in one query (params, values, intermediate values and constraint values as JSON):
-- trials created since the last look (ids above %(after)s; trial ids only grow), and, among those
-- it saw running or waiting, the ones whose state moved on. The trials are found by id (the new
-- ones through the primary key's range above %(after)s), never by scanning the study, so a look
-- costs the same at 100 trials as at 10,000.
WITH s AS (
    SELECT study_id FROM studies WHERE study_name = %(study_name)s
), ids AS (
    SELECT trial_id FROM trials WHERE trial_id > %(after)s
    UNION
    SELECT unnest(%(running)s::int[] || %(waiting)s::int[])
)
SELECT t.trial_id,
       t.state::text AS state,
       (SELECT json_agg(json_build_array(p.param_name, p.param_value, p.distribution_json))
        FROM trial_params p WHERE p.trial_id = t.trial_id) AS params,
       (SELECT json_agg(json_build_array(v.objective, v.value, v.value_type::text)
                        ORDER BY v.objective)
        FROM trial_values v WHERE v.trial_id = t.trial_id) AS trial_values,
       (SELECT json_agg(json_build_array(i.step, i.intermediate_value,
                                         i.intermediate_value_type::text))
        FROM trial_intermediate_values i WHERE i.trial_id = t.trial_id) AS intermediate,
       (SELECT a.value_json
        FROM trial_system_attributes a
        WHERE a.trial_id = t.trial_id AND a.key = 'constraints') AS constraints
FROM ids
JOIN trials t USING (trial_id)
WHERE t.study_id = (SELECT study_id FROM s)
  AND (t.trial_id > %(after)s
       OR (t.trial_id = ANY(%(running)s) AND t.state <> 'RUNNING'::trialstate)
       OR (t.trial_id = ANY(%(waiting)s) AND t.state <> 'WAITING'::trialstate))
ORDER BY t.trial_id;
