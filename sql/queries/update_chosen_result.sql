-- The study's chosen trial carries the study statistics; its gate verdict includes them.
UPDATE model_results
SET metrics = metrics || %(extra)s,
    gate_failures = %(failures)s,
    gate_passed = (status = 'ok' AND cardinality(%(failures)s::text[]) = 0)
WHERE id = %(result_id)s;
