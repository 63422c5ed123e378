-- Every look already taken at a study's sealed holdout, in order, with its result (the report
-- shows them; it never takes one), counted on the bars as `sweep holdout` and
-- `sweep results --holdout` count them: bar_look_number of looks_on_bars are holdout looks by
-- any study on the same symbol, timeframe and overlapping window (covering at least a tenth of
-- it), scored_on_bars the other results that scored those bars.
SELECT l.look_number, l.experiment_id, l.looked_at, r.metrics, r.gate_passed, r.gate_failures,
       r.test_from, r.test_to,
       lk.bar_look_number, lk.looks_on_bars, lk.scored_on_bars
FROM holdout_looks l
JOIN model_results r ON r.id = l.result_id
JOIN experiments e ON e.experiment_id = r.experiment_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.holdout AND o.id <= r.id) AS bar_look_number,
           count(*) FILTER (WHERE o.holdout) AS looks_on_bars,
           count(*) FILTER (WHERE NOT o.holdout) AS scored_on_bars
    FROM model_results o
    JOIN experiments oe ON oe.experiment_id = o.experiment_id
    WHERE o.status = 'ok' AND o.gate_passed IS NOT NULL
      AND oe.symbol = e.symbol AND oe.timeframe = e.timeframe
      AND least(o.test_to, r.test_to) - greatest(o.test_from, r.test_from)
          > (r.test_to - r.test_from) / 10
) AS lk
WHERE l.study_name = %(study_name)s
ORDER BY l.look_number;
