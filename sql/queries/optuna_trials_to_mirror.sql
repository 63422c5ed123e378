-- What changed in a study since a worker's in-memory sampler study last looked, read from Optuna's
-- own tables in one query (params, values, intermediate values and constraint values as JSON):
-- trials whose final state the mirror lacks, and trials running elsewhere that it does not hold
-- yet.
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
JOIN studies s ON s.study_id = t.study_id
WHERE s.study_name = %(study_name)s
  AND t.state::text IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')
  AND NOT (t.trial_id = ANY(%(known)s))
  AND NOT (t.state::text = 'RUNNING' AND t.trial_id = ANY(%(running)s))
ORDER BY t.trial_id;
