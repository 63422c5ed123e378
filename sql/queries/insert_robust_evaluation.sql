-- What a robustness run is, beside its result row (same transaction). No row comes back when
-- this evaluation of this candidate was recorded meanwhile (a concurrent `sweep robust`).
INSERT INTO robust_evaluations (result_id, study_name, candidate_id, kind, eval_key, label,
                                changes, objective, value, passed, regimes)
VALUES (%(result_id)s, %(study_name)s, %(candidate_id)s, %(kind)s, %(eval_key)s, %(label)s,
        %(changes)s, %(objective)s, %(value)s, %(passed)s, %(regimes)s)
ON CONFLICT (candidate_id, eval_key) DO NOTHING
RETURNING result_id;
