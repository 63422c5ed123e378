UPDATE sweep_participants SET heartbeat = now() WHERE id = %(id)s AND left_at IS NULL;
