-- Each planned candidate's neighbourhood (its one-parameter-at-a-time neighbours, `sweep robust`):
-- how many were planned and are registered, their median and worst objective, the share that
-- passed the gate's per-run checks, and the robustness score, the lower quartile of the
-- neighbours' objective. Quantiles are nearest-rank (percentile_disc): the score is the
-- ceil(n/4)-th worst neighbour, the median the ceil(n/2)-th worst; for a minimised objective the
-- worst are the highest. A neighbour that failed, or whose objective is undefined, counts as the
-- worst of all (-infinity for a maximised objective, +infinity for a minimised one).
WITH n AS (
    SELECT v.candidate_id, v.passed,
           CASE WHEN %(maximize)s THEN coalesce(v.value, '-infinity')
                ELSE -coalesce(v.value, 'infinity') END AS signed
    FROM robust_evaluations v
    WHERE v.study_name = %(study_name)s AND v.kind = 'neighbour'
      AND v.objective = %(objective)s
)
SELECT c.candidate_id, c.n_neighbours AS n_planned, count(n.candidate_id) AS n_done,
       percentile_disc(0.25) WITHIN GROUP (ORDER BY n.signed)
           * CASE WHEN %(maximize)s THEN 1 ELSE -1 END AS score,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY n.signed)
           * CASE WHEN %(maximize)s THEN 1 ELSE -1 END AS median,
       min(n.signed) * CASE WHEN %(maximize)s THEN 1 ELSE -1 END AS worst,
       avg(n.passed::int) AS share_passed
FROM robust_candidates c
LEFT JOIN n ON n.candidate_id = c.candidate_id
WHERE c.study_name = %(study_name)s
GROUP BY c.candidate_id, c.n_neighbours
ORDER BY c.candidate_id;
