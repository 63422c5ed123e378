-- Finish a RUNNING trial (COMPLETE, PRUNED or FAIL); returns nothing if it was not running.
UPDATE trials SET state = %(state)s::trialstate, datetime_complete = %(now)s
WHERE trial_id = %(trial_id)s AND state = 'RUNNING'::trialstate
RETURNING trial_id;
