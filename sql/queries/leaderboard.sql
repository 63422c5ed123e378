-- The leaderboard, ordered by a metric (NULLs last). Holdout evaluations are listed only when
-- asked for (and then only they); with latest_only, one row per experiment: its latest run.
WITH runs AS (
    SELECT DISTINCT ON (CASE WHEN %(latest_only)s THEN r.experiment_id END,
                        CASE WHEN %(latest_only)s THEN NULL ELSE r.id END)
           r.*
    FROM model_results r
    WHERE r.holdout = %(holdout)s
    ORDER BY CASE WHEN %(latest_only)s THEN r.experiment_id END,
             CASE WHEN %(latest_only)s THEN NULL ELSE r.id END,
             r.id DESC
)
SELECT r.id, r.experiment_id, e.symbol, e.timeframe, e.feature_groups,
       (r.metrics ->> 'sharpe')::float        AS sharpe,
       (r.metrics ->> 'win_rate')::float      AS win_rate,
       (r.metrics ->> 'alpha')::float         AS alpha,
       (r.metrics ->> 'max_drawdown')::float  AS max_drawdown,
       (r.metrics ->> 'n_trades')::int        AS n_trades,
       (r.metrics ->> %(order)s)::float       AS order_value,
       r.gate_passed, r.status, r.holdout, r.trained_at,
       count(*) OVER () AS n_matching
FROM runs r
JOIN experiments e USING (experiment_id)
WHERE (NOT %(passed_only)s OR r.gate_passed)
  AND (%(study)s::text IS NULL OR e.study_name = %(study)s)
  AND (%(include_failed)s OR r.status = 'ok')
ORDER BY CASE WHEN %(ascending)s THEN (r.metrics ->> %(order)s)::float END ASC NULLS LAST,
         (r.metrics ->> %(order)s)::float DESC NULLS LAST,
         r.id
LIMIT %(top)s;
