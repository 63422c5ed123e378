-- Trials scored on the same bars as a study's trials, by study (NULL: single runs): the same
-- symbol and timeframe, with a scored window (test_from..test_to) covering at least a tenth of
-- the study's.
-- Completed search results only (holdout looks are counted apart; robustness runs, which have no
-- study and a NULL gate_passed, are not trials and not single runs); the study's own trials are
-- counted by study_tried, pruned ones included.
WITH mine AS (
    SELECT e.symbol, e.timeframe, min(r.test_from) AS t0, max(r.test_to) AS t1
    FROM experiments e JOIN model_results r USING (experiment_id)
    WHERE e.study_name = %(study_name)s AND NOT r.holdout AND NOT r.refit
      AND r.test_from IS NOT NULL
    GROUP BY e.symbol, e.timeframe
)
SELECT e.study_name, count(DISTINCT e.experiment_id) AS n
FROM experiments e
JOIN model_results r USING (experiment_id)
JOIN mine m ON m.symbol = e.symbol AND m.timeframe = e.timeframe
WHERE NOT r.holdout AND NOT r.refit AND r.status = 'ok' AND r.gate_passed IS NOT NULL
  AND least(r.test_to, m.t1) - greatest(r.test_from, m.t0) > (m.t1 - m.t0) / 10
  AND e.study_name IS DISTINCT FROM %(study_name)s
GROUP BY e.study_name;
