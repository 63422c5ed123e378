-- Studies, newest first, with their verdict and how often their holdouts were looked at:
-- holdout_looks by this study, holdout_looks_on_bars by any study on the same bars (the same
-- symbol and timeframe, overlapping windows; NULL until this study has looked).
-- A study left 'running' by participants that all died (SIGKILL, a lost host) shows as
-- 'interrupted': the same command resumes it. `participants`: the live ones.
SELECT s.study_name,
       CASE WHEN s.status = 'running' AND p.live = 0 THEN 'interrupted' ELSE s.status END
           AS status,
       p.live AS participants,
       s.n_trials_target, s.n_complete, s.n_pruned, s.n_failed,
       s.n_running, s.objectives, s.directions, s.sampler, s.seed, s.pruner, s.constraints,
       s.best_trial, s.best_experiment_id, s.trial_id_offset, s.stats,
       (s.stats ->> 'best_value')::float AS best_value,
       s.stats ->> 'verdict' AS verdict,
       coalesce(s.stats -> 'verdict_reasons', '[]'::jsonb) AS verdict_reasons,
       (s.stats ->> 'dsr')::float AS dsr, (s.stats ->> 'pbo')::float AS pbo,
       (s.stats ->> 'timing_p')::float AS timing_p,
       (s.stats ->> 'n_trials_bars')::int AS n_trials_on_bars,
       (SELECT count(*) FROM holdout_looks h WHERE h.study_name = s.study_name) AS holdout_looks,
       (SELECT count(DISTINCT o.id)
        FROM holdout_looks h
        JOIN model_results r ON r.id = h.result_id
        JOIN experiments e ON e.experiment_id = r.experiment_id
        JOIN model_results o ON o.holdout AND o.status = 'ok'
             AND least(o.test_to, r.test_to) - greatest(o.test_from, r.test_from)
                 > (r.test_to - r.test_from) / 10
        JOIN experiments oe ON oe.experiment_id = o.experiment_id
             AND oe.symbol = e.symbol AND oe.timeframe = e.timeframe
        WHERE h.study_name = s.study_name) AS holdout_looks_on_bars,
       s.started_at, s.ended_at
FROM sweep_studies s
CROSS JOIN LATERAL (
    SELECT count(*) AS live FROM sweep_participants p
    WHERE p.study_name = s.study_name AND p.left_at IS NULL
      AND p.heartbeat > now() - make_interval(secs => %(grace)s)
) p
ORDER BY s.started_at DESC;
