-- What changed in a study since a worker's in-memory sampler study last looked, read from Optuna's
-- own tables in one query (params, values, intermediate values and constraint values as JSON):
-- trials created since the last look (ids above %(after)s; trial ids only grow), and, among those
-- it saw running or waiting, the ones whose state moved on. Its cost does not grow with the study.
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
FROM trials t
WHERE t.study_id = (SELECT study_id FROM studies WHERE study_name = %(study_name)s)
  AND (t.trial_id > %(after)s
       OR (t.trial_id = ANY(%(running)s) AND t.state <> 'RUNNING'::trialstate)
       OR (t.trial_id = ANY(%(waiting)s) AND t.state <> 'WAITING'::trialstate))
ORDER BY t.trial_id;
