-- The leaderboard: one row per run, ordered by a metric (NULLs last).
SELECT r.id, r.experiment_id, e.symbol, e.timeframe, e.feature_groups,
       (r.metrics ->> 'sharpe')::float        AS sharpe,
       (r.metrics ->> 'win_rate')::float      AS win_rate,
       (r.metrics ->> 'alpha')::float         AS alpha,
       (r.metrics ->> 'max_drawdown')::float  AS max_drawdown,
       (r.metrics ->> 'n_trades')::int        AS n_trades,
       (r.metrics ->> %(order)s)::float       AS order_value,
       r.gate_passed, r.status, r.holdout, r.trained_at
FROM model_results r
JOIN experiments e USING (experiment_id)
WHERE (NOT %(passed_only)s OR r.gate_passed)
  AND (%(study)s::text IS NULL OR e.study_name = %(study)s)
  AND (%(include_failed)s OR r.status = 'ok')
ORDER BY CASE WHEN %(ascending)s THEN (r.metrics ->> %(order)s)::float END ASC NULLS LAST,
         (r.metrics ->> %(order)s)::float DESC NULLS LAST,
         r.id
LIMIT %(top)s;
