UPDATE sweep_studies
SET status = %(status)s, ended_at = now(), n_complete = %(n_complete)s,
    n_pruned = %(n_pruned)s, n_failed = %(n_failed)s, n_running = %(n_running)s,
    best_trial = %(best_trial)s, best_experiment_id = %(best_experiment_id)s,
    stats = coalesce(%(stats)s, stats)
WHERE study_name = %(study_name)s;
