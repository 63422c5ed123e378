-- A participant is alive. One marked 'lost' by a participant that joined while its heartbeat was
-- stale (a paused process: Ctrl-Z, a suspended host) is running again: counted as at work by the
-- others' leaving (sql/queries/participant_leave.sql) instead of gone for good.
UPDATE sweep_participants SET heartbeat = now(), status = 'running', left_at = NULL
WHERE id = %(id)s AND (left_at IS NULL OR status = 'lost');
