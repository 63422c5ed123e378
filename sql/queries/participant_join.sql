INSERT INTO sweep_participants (study_name, host, pid, command, jobs)
VALUES (%(study_name)s, %(host)s, %(pid)s, %(command)s, %(jobs)s)
RETURNING id;
