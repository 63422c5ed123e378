SELECT study_name, status, n_trials_target, n_complete, n_pruned, n_failed, n_running,
       objectives, directions, sampler, best_experiment_id,
       (stats ->> 'best_value')::float AS best_value,
       (stats ->> 'dsr')::float AS dsr, (stats ->> 'pbo')::float AS pbo, started_at, ended_at
FROM sweep_studies
ORDER BY started_at DESC;
