-- A participant leaves; returns how many others are still alive (not left, heartbeat fresh).
WITH me AS (
    UPDATE sweep_participants SET left_at = now(), status = %(status)s, heartbeat = now()
    WHERE id = %(id)s
    RETURNING study_name
)
SELECT count(*)
FROM sweep_participants p, me
WHERE p.study_name = me.study_name AND p.id <> %(id)s AND p.left_at IS NULL
  AND p.heartbeat > now() - make_interval(secs => %(grace)s);
