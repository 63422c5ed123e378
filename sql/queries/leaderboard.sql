-- The leaderboard, ordered by a metric (NULLs last). Holdout evaluations are listed only when
-- asked for (and then only they), with their looks counted on the bars: look_number of
-- looks_on_bars are holdout looks by any study on the same symbol, timeframe and overlapping
-- window (covering at least a tenth of it), scored_on_bars the other results that scored
-- those bars. Robustness runs never (`sweep robust` reports them). With latest_only, one row
-- per experiment: its latest run.
-- In two steps: the matching runs are ordered on narrow rows (id, the order value), and only the
-- top rows are read whole, joined and counted on the bars (at 100,000 rows, ordering the whole
-- rows with their metrics cost twice the time).
WITH runs AS (
    SELECT DISTINCT ON (CASE WHEN %(latest_only)s THEN r.experiment_id END,
                        CASE WHEN %(latest_only)s THEN NULL ELSE r.id END)
           r.id, r.gate_passed, r.status, (r.metrics ->> %(order)s)::float AS order_value
    FROM experiments s  -- a study's experiments through the index by study
    JOIN model_results r USING (experiment_id)
    WHERE r.holdout = %(holdout)s AND NOT r.refit AND r.role <> 'robust'
      AND (%(study)s::text IS NULL OR s.study_name = %(study)s)
    ORDER BY CASE WHEN %(latest_only)s THEN r.experiment_id END,
             CASE WHEN %(latest_only)s THEN NULL ELSE r.id END,
             r.id DESC
), top AS (
    SELECT r.id, r.order_value, count(*) OVER () AS n_matching
    FROM runs r
    WHERE (NOT %(passed_only)s OR r.gate_passed)
      AND (%(include_failed)s OR r.status = 'ok')
    ORDER BY CASE WHEN %(ascending)s THEN r.order_value END ASC NULLS LAST,
             r.order_value DESC NULLS LAST,
             r.id
    LIMIT %(top)s
)
SELECT r.id, r.experiment_id, e.symbol, e.timeframe, e.feature_groups,
       (r.metrics ->> 'sharpe')::float        AS sharpe,
       (r.metrics ->> 'win_rate')::float      AS win_rate,
       (r.metrics ->> 'alpha')::float         AS alpha,
       (r.metrics ->> 'max_drawdown')::float  AS max_drawdown,
       (r.metrics ->> 'n_trades')::int        AS n_trades,
       t.order_value,
       r.gate_passed, r.gate_failures, r.status, r.holdout, r.trained_at, r.metrics,
       lk.look_number, lk.looks_on_bars, lk.scored_on_bars,
       t.n_matching
FROM top t
JOIN model_results r ON r.id = t.id
JOIN experiments e USING (experiment_id)
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.holdout AND o.id <= r.id) AS look_number,
           count(*) FILTER (WHERE o.holdout) AS looks_on_bars,
           count(*) FILTER (WHERE NOT o.holdout) AS scored_on_bars
    FROM model_results o
    JOIN experiments oe USING (experiment_id)
    WHERE %(holdout)s AND o.status = 'ok' AND o.gate_passed IS NOT NULL
      AND oe.symbol = e.symbol AND oe.timeframe = e.timeframe
      AND least(o.test_to, r.test_to) - greatest(o.test_from, r.test_from)
          > (r.test_to - r.test_from) / 10
) AS lk ON %(holdout)s
ORDER BY CASE WHEN %(ascending)s THEN t.order_value END ASC NULLS LAST,
         t.order_value DESC NULLS LAST,
         r.id;
