-- Experiment ids that a misspelt one may have meant, for a did-you-mean: those that share its
-- first three characters, newest first, at most 5,000 (difflib then picks the closest in a few
-- milliseconds; a scan of 100,000 ids on this error path is a few more).
SELECT experiment_id
FROM experiments
WHERE left(experiment_id, 3) = left(%(experiment_id)s, 3)
ORDER BY created_at DESC
LIMIT 5000;
