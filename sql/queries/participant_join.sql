-- A participant joins the study; those whose heartbeat is older than the grace period died
-- without leaving (kill -9, a lost host) and are marked 'lost', left at their last heartbeat.
WITH lost AS (
    UPDATE sweep_participants SET status = 'lost', left_at = heartbeat
    WHERE study_name = %(study_name)s AND left_at IS NULL
      AND heartbeat < now() - make_interval(secs => %(grace)s)
)
INSERT INTO sweep_participants (study_name, host, pid, command, jobs)
VALUES (%(study_name)s, %(host)s, %(pid)s, %(command)s, %(jobs)s)
RETURNING id;
