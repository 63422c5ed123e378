-- Every completed result that scored bars of [t0, t1] of one symbol and timeframe (its window
-- covers at least a tenth of it: trials whose label reach differs start their holdouts a few bars
-- apart, and those edges are not a look), by
-- study (NULL: single runs) and kind: holdout looks, and search results (a run without
-- walk-forward folds scores its test period; a study with another train_ratio folds over it).
-- Robustness runs (`sweep robust`, gate_passed NULL) are left out: they are no search and score
-- the search part only.
-- looks_until counts the holdout looks up to and including result %(result_id)s.
SELECT e.study_name, r.holdout, count(*) AS n,
       count(*) FILTER (WHERE r.holdout AND r.id <= %(result_id)s) AS looks_until
FROM model_results r
JOIN experiments e USING (experiment_id)
WHERE e.symbol = %(symbol)s AND e.timeframe = %(timeframe)s AND r.status = 'ok'
  AND r.gate_passed IS NOT NULL AND NOT r.refit
  AND least(r.test_to, %(t1)s) - greatest(r.test_from, %(t0)s)
      > (%(t1)s::timestamptz - %(t0)s::timestamptz) / 10
GROUP BY e.study_name, r.holdout;
