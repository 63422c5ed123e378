-- A queued trial (a retry of a trial whose worker died), oldest first.
SELECT t.trial_id
FROM trials t
JOIN studies s ON s.study_id = t.study_id
WHERE s.study_name = %(study_name)s AND t.state::text = 'WAITING'
ORDER BY t.trial_id
LIMIT 1;
