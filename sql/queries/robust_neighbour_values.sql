-- The objective of every registered one-at-a-time neighbour of the given candidates.
SELECT candidate_id, value
FROM robust_evaluations
WHERE study_name = %(study_name)s AND candidate_id = ANY(%(candidates)s)
  AND kind = 'neighbour' AND objective = %(objective)s
ORDER BY candidate_id, eval_key;
