-- The end of one participant's run: counts and best trial always; the status only when no other
-- participant is alive (`others` = 0) or the budget is met, else the study stays 'running'.
UPDATE sweep_studies
SET status = CASE WHEN %(others)s = 0 OR %(status)s = 'completed' THEN %(status)s
                  ELSE 'running' END,
    ended_at = CASE WHEN %(others)s = 0 OR %(status)s = 'completed' THEN now() END,
    n_complete = %(n_complete)s,
    n_pruned = %(n_pruned)s, n_failed = %(n_failed)s, n_running = %(n_running)s,
    best_trial = %(best_trial)s, best_experiment_id = %(best_experiment_id)s,
    stats = coalesce(%(stats)s, stats)
WHERE study_name = %(study_name)s;
