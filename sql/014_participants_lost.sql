-- A participant that died without leaving (kill -9, a lost host) stayed 'running' for good, so a
-- query for the study's participants showed it at work. The next participant to join the study
-- marks it 'lost', left at its last heartbeat (sql/queries/participant_join.sql).
ALTER TABLE sweep_participants DROP CONSTRAINT sweep_participants_status_check;
ALTER TABLE sweep_participants ADD CONSTRAINT sweep_participants_status_check
    CHECK (status IN ('running', 'completed', 'interrupted', 'timed_out', 'failed', 'lost'));
UPDATE sweep_participants SET status = 'lost', left_at = heartbeat
WHERE left_at IS NULL AND heartbeat < now() - interval '1 day';
