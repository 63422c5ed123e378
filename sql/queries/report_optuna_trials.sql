-- A study's trials as Optuna keeps them, for the report's plots, in one query on Optuna's own
-- tables (the ORM's path takes seconds at 1,000 trials): number, state, parameters in Optuna's
-- stored form, values, constraint values and the experiment id.
SELECT t.number,
       t.state::text AS state,
       (SELECT json_agg(json_build_array(p.param_name, p.param_value, p.distribution_json))
        FROM trial_params p WHERE p.trial_id = t.trial_id) AS params,
       (SELECT json_agg(json_build_array(v.objective, v.value, v.value_type::text)
                        ORDER BY v.objective)
        FROM trial_values v WHERE v.trial_id = t.trial_id) AS trial_values,
       (SELECT a.value_json FROM trial_system_attributes a
        WHERE a.trial_id = t.trial_id AND a.key = 'constraints') AS constraints,
       (SELECT a.value_json FROM trial_user_attributes a
        WHERE a.trial_id = t.trial_id AND a.key = 'experiment_id') AS experiment_id
FROM trials t
JOIN studies s ON s.study_id = t.study_id
WHERE s.study_name = %(study_name)s
ORDER BY t.number;
