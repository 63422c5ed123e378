-- The robustness evaluations of these candidates that are registered already (a resumed
-- `sweep robust` skips them).
SELECT candidate_id, eval_key FROM robust_evaluations WHERE candidate_id = ANY(%(candidates)s);
