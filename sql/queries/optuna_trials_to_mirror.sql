-- What changed in a study since a worker's in-memory sampler study last looked, read from Optuna's
-- own tables in one query (params, values, intermediate values and constraint values as JSON):
-- trials created since the last look (ids above %(after)s; trial ids only grow), and, among those
-- it saw running or waiting (all at or below %(after)s), the ones whose state moved on.
-- Each branch finds its trials by index, never by scanning the study: the new ones through the
-- range above %(after)s in sweep_trials_study_trial (study_id, trial_id), which
-- sweep.store.optuna_tables.ensure_indexes adds to Optuna's trials table, the watched ones by
-- primary key. So a look costs the same at 100 trials as at 10,000, under a generic plan too (a
-- prepared statement's plan does not know %(after)s; with one condition OR-ed over the three, it
-- scanned every trial of the study: 1.8 ms at 10,000).
WITH s AS (
    SELECT study_id FROM studies WHERE study_name = %(study_name)s
), t AS (
    SELECT trial_id, state FROM trials
    WHERE study_id = (SELECT study_id FROM s) AND trial_id > %(after)s
    UNION ALL
    SELECT trial_id, state FROM trials
    WHERE trial_id = ANY(%(running)s) AND trial_id <= %(after)s
      AND study_id = (SELECT study_id FROM s) AND state <> 'RUNNING'::trialstate
    UNION ALL
    SELECT trial_id, state FROM trials
    WHERE trial_id = ANY(%(waiting)s) AND trial_id <= %(after)s
      AND study_id = (SELECT study_id FROM s) AND state <> 'WAITING'::trialstate
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
FROM t
ORDER BY t.trial_id;
